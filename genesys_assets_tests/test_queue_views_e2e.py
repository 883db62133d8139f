"""Queue-view figures end to end: secondary media and partial groups kept and counted, and a lake written at
an earlier schema version upgraded in place. Real Dagster runs against the sandbox org over HTTP and a
moto S3; expected figures come from the sandbox's generated conversations (`sandbox.truth`)."""

from datetime import date

import dagster as dg
import polars as pl

from genesys_assets.genesys.records import SECONDARY_MEDIA_TYPES
from genesys_assets.schema import DAILY_KPIS, INTERVAL_KPIS, KPI_MAXIMA, KPI_MEASURES, RAW_AGGREGATES
from genesys_assets.transforms.kpis import MEASURE_SOURCES
from genesys_assets_tests.pipeline_fixtures import Pipeline, assert_ratios_follow_their_sums, daily_sums

DAYS = ("2026-10-19", "2026-10-20")
# Columns a lake written at schema version 2 did not have.
NEW_IN_SCHEMA_3 = [*KPI_MEASURES[KPI_MEASURES.index("short_abandoned") :], *KPI_MAXIMA]


def _evaluations(result: dg.ExecuteInProcessResult, name: str) -> list[dg.AssetCheckEvaluation]:
    return [
        event.event_specific_data
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and event.event_specific_data.check_name == name
    ]


def _metadata(
    result: dg.ExecuteInProcessResult, asset: str, partition: str | None = None
) -> dict[str, object]:
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(asset) and partition in (None, e.partition)
    )
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_cobrowse_and_groups_without_direction_are_kept_counted_and_checked(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(queue_count=10, partial_group_metrics=("nConnected",))
    pipeline.directory()
    result = pipeline.daily(DAYS)
    assert result.success  # the data flows on; the check below says which figures it leaves short
    first, last = (date.fromisoformat(day) for day in DAYS)
    truth = pipeline.sandbox.truth.daily_frame(first, last)
    raw = pl.concat(
        pl.read_parquet(pipeline.lake_dir / "raw_queue_aggregates" / f"{d}.parquet") for d in DAYS
    )

    # Nothing vanishes: per metric, the raw table's counts (partial groups included) equal the truth's.
    for measure, (metric, stat) in MEASURE_SOURCES.items():
        if stat == "count":
            stored = raw.filter(pl.col("metric") == metric)["count"].sum()
            assert stored == truth[measure].sum(), (metric, stored, truth[measure].sum())
    partial = raw.filter(pl.col("direction").is_null())
    assert partial.height > 0 and set(partial["metric"]) == {"nConnected"}
    assert partial["queue_id"].null_count() == 0 and partial["media_type"].null_count() == 0

    # Counted in the metadata, and the check that guards KPI metrics fails, as an error that does not block.
    metadata = _metadata(result, "raw_queue_aggregates")
    assert metadata["partial_group_rows"] == partial.height
    assert metadata["partial_groups"] == [
        {
            "missing": "direction",
            "metric": "nConnected",
            "rows": partial.height,
            "count": partial["count"].sum(),
            "feeds_kpi": True,
        }
    ]
    evaluations = _evaluations(result, "kpi_metrics_in_complete_groups")
    assert len(evaluations) == 2 and not any(e.passed for e in evaluations)
    assert {e.severity for e in evaluations} == {dg.AssetCheckSeverity.ERROR}
    assert "nConnected without direction" in evaluations[0].description
    # The KPI tables never merge the partial group into a direction: their connected column stays short.
    exports = pl.concat(pipeline.export_frame("daily", day) for day in DAYS)
    assert exports["connected"].sum() == 0 < truth["connected"].sum()

    # Co-browse sessions are a channel of their own, never in chat's figures, and out of all-channel totals.
    cobrowse = daily_sums(exports.filter(pl.col("media_type") == "cobrowse"))
    assert cobrowse.height > 0
    chat = daily_sums(exports.filter(pl.col("media_type") == "chat"))
    expected_chat = truth.filter(pl.col("media_type") == "chat").select(chat.columns).sort(chat.columns[:4])
    assert chat.select(expected_chat.columns).equals(expected_chat.with_columns(connected=pl.lit(0)))
    daily_meta = _metadata(result, "queue_kpis_daily", DAYS[0])
    day_truth = truth.filter(pl.col("local_date") == date.fromisoformat(DAYS[0]))
    primary = day_truth.filter(~pl.col("media_type").is_in(list(SECONDARY_MEDIA_TYPES)))
    assert daily_meta["total_offered"] == primary["offered"].sum() < day_truth["offered"].sum()
    assert assert_ratios_follow_their_sums(exports.filter(pl.col("offered") > 0)) > 0


def _downgrade(path, current: pl.Schema) -> None:
    """Rewrite a stored partition as schema version 2 wrote it: without the columns version 3 added."""
    frame = pl.read_parquet(path)
    assert frame.schema == current
    frame.drop(NEW_IN_SCHEMA_3, strict=False).write_parquet(path)


def test_a_lake_written_at_schema_2_keeps_working_after_the_upgrade(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(queue_count=4)
    pipeline.directory()
    old_days = ["2026-10-12", "2026-10-13", "2026-10-14"]
    assert pipeline.daily((old_days[0], old_days[-1])).success
    for day in old_days:
        for asset, schema in (
            ("raw_queue_aggregates", RAW_AGGREGATES),
            ("queue_interval_kpis", INTERVAL_KPIS),
            ("queue_kpis_daily", DAILY_KPIS),
        ):
            _downgrade(pipeline.lake_dir / asset / f"{day}.parquet", schema)

    # The daily job of the next day reads schema-2 days in its channel and gap windows; the week mixes both.
    assert pipeline.daily(("2026-10-15", "2026-10-18")).success
    reread = pipeline.daily("2026-10-13")
    assert (
        _metadata(reread, "queue_interval_kpis")["restated_rows"] == 0
    )  # filling new columns is no restatement
    assert pipeline.weekly("2026-10-12").success
    week = pipeline.export_frame("weekly", "2026-10-12")
    upgraded = week.filter(pl.col("local_date").is_in([date(2026, 10, 12), date(2026, 10, 14)]))
    assert upgraded["talk_count"].is_null().all() and upgraded["avg_talk_s"].is_null().all()
    current = week.filter(pl.col("local_date").is_in([date(2026, 10, 13), date(2026, 10, 15)]))
    truth = pipeline.sandbox.truth.daily_frame(date(2026, 10, 13), date(2026, 10, 15))
    expected = truth.filter(pl.col("local_date") != date(2026, 10, 14))
    assert daily_sums(current).select(expected.columns).equals(expected)
    assert (upgraded["offered"] > 0).any()  # the columns schema 2 had are still there
