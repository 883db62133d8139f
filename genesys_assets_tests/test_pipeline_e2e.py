"""The asset chain end to end through real Dagster runs, a real sandbox org over HTTP and a real S3 API.

Figures are compared with totals computed independently from the sandbox's generated conversations
(`sandbox.truth`), never with the pipeline's own output.
"""

import shutil
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from genesys_assets import localtime
from genesys_assets.definitions import defs
from genesys_assets.defs import automation, gap_refills
from genesys_assets.schema import EXPORT_DAILY, EXPORT_WEEKLY, KPI_MEASURES, SCHEMA_VERSION
from genesys_assets_tests.pipeline_fixtures import Pipeline, assert_ratios_follow_their_sums, daily_sums
from genesys_assets_tests.reliability_helpers import step_failure

# The local week of the 2026 fall-back change in America/New_York (Sunday 1 November has 25 hours).
DST_WEEK = "2026-10-26"
DST_DAYS = localtime.week_days(date(2026, 10, 26))
FALL_BACK = date(2026, 11, 1)


def _checks_passed(result: dg.ExecuteInProcessResult, *, blocking_only: bool = False) -> dict[str, bool]:
    evaluations = [
        event.event_specific_data  # the AssetCheckEvaluation
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    return {
        e.check_name: e.passed
        for e in evaluations
        if not blocking_only or e.severity == dg.AssetCheckSeverity.ERROR
    }


def _truth(pipeline: Pipeline, first: date, last: date) -> pl.DataFrame:
    return pipeline.sandbox.truth.daily_frame(first, last).sort("local_date", "queue_id", "media_type")


def test_dst_week_chain_equals_the_generated_conversations(pipeline: Pipeline) -> None:
    pipeline.directory()
    daily = pipeline.daily((DST_DAYS[0].isoformat(), DST_DAYS[-1].isoformat()))
    assert daily.success
    checks = _checks_passed(daily)
    assert checks["raw_data_contract"] and checks["interval_grid_complete"] and checks["daily_kpi_contract"]
    # One evaluation per check and partition in the range run, each tied to that partition's materialization.
    evaluations = [
        event.event_specific_data
        for event in daily.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    keys = [day.isoformat() for day in DST_DAYS]
    for name in (
        "raw_data_contract",
        "interval_grid_complete",
        "daily_kpi_contract",
        "daily_provisional_rows",
    ):
        mine = [e for e in evaluations if e.check_name == name]
        assert sorted(e.partition for e in mine) == keys
        assert all(e.target_materialization_data.run_id == daily.run_id for e in mine)
    weekly = pipeline.weekly(DST_WEEK)
    assert weekly.success and _checks_passed(weekly)["weekly_equals_daily_sum"]

    frames = {day: pipeline.export_frame("daily", day.isoformat()) for day in DST_DAYS}
    for frame in frames.values():
        assert frame.schema == EXPORT_DAILY  # one schema for every partition, the 25-hour day included
    queue_media = frames[FALL_BACK].select("queue_id", "media_type", "direction").unique().height
    assert queue_media > 0
    assert frames[FALL_BACK].height == queue_media * 50
    assert frames[DST_DAYS[0]].height == queue_media * 48
    repeated = frames[FALL_BACK].filter(pl.col("local_time") == "01:30")
    assert sorted(set(repeated["utc_offset"])) == ["-04:00", "-05:00"]

    exported = daily_sums(pl.concat(frames.values()))
    truth = _truth(pipeline, DST_DAYS[0], DST_DAYS[-1])
    assert exported.height == truth.height > 0
    assert exported.select(truth.columns).equals(truth)  # inbound and outbound rows, each exact
    assert set(truth["direction"]) == {"inbound", "outbound"}

    # Channels come from traffic, not from the five settings blocks every queue carries: a day's export
    # holds the channels with traffic on a stored day of its window (here: the week's days up to it).
    listing = pipeline.sandbox.org.queue_settings_json(pipeline.sandbox.truth.queues()[0])
    assert sorted(listing["mediaSettings"]) == ["call", "callback", "chat", "email", "message"]
    channel = ["queue_id", "media_type", "direction"]
    for day, frame in frames.items():
        active = set(truth.filter(pl.col("local_date") <= day).select(channel).iter_rows())
        assert set(frame.select(channel).unique().iter_rows()) == active
    assert 0 < len(active) < 5 * len(pipeline.sandbox.truth.queues())
    # KPIs computed from the truth: service level of the whole week and AHT of one busy queue-day.
    week = truth.select(pl.col(m).sum() for m in KPI_MEASURES).row(0, named=True)
    exported_sl = (
        pl.concat(frames.values())
        .select(pl.col("sl_numerator").sum() / pl.col("sl_denominator").sum())
        .item()
    )
    assert exported_sl == week["sl_numerator"] / week["sl_denominator"]
    assert not pl.concat(frames.values())["is_interpolated"].any()
    assert set(pl.concat(frames.values())["fill_method"]) == {"observed"}

    weekly_frame = pipeline.export_frame("weekly", DST_WEEK)
    assert weekly_frame.schema == EXPORT_WEEKLY
    assert daily_sums(weekly_frame).select(truth.columns).equals(truth)
    assert set(weekly_frame["days_observed"]) == {7}

    # Every ratio equals its own sums, per interval, per day and per week; the averages Genesys's views
    # show divide by their own counts (Avg Hold over calls that had a hold, not over handled ones).
    assert assert_ratios_follow_their_sums(pl.concat(frames.values()).filter(pl.col("offered") > 0)) > 0
    assert assert_ratios_follow_their_sums(weekly_frame) > 0
    assert assert_ratios_follow_their_sums(pipeline.weekly_table(DST_WEEK)) > 0
    busy = truth.filter(pl.col("hold_count") > 0)
    assert (busy["hold_count"] < busy["handle_count"]).any()

    export_event = next(
        e
        for e in daily.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("queue_export_daily")
    )
    metadata = export_event.materialization.metadata
    assert metadata["dagster/row_count"].value > 0
    assert (
        str(metadata["s3_uri"].value)
        == f"s3://{pipeline.bucket}/{pipeline.export_key('daily', export_event.materialization.partition)}"
    )
    raw_event = next(
        e
        for e in daily.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("raw_queue_aggregates")
    )
    assert raw_event.materialization.metadata["api_calls"].value >= 1
    assert raw_event.materialization.metadata["http_429"].value == 0


def test_rerun_and_range_runs_leave_byte_identical_objects(pipeline: Pipeline) -> None:
    pipeline.directory()
    first, last = "2026-10-12", "2026-10-16"
    ranged = pipeline.daily((first, last))
    before = pipeline.s3_objects()
    assert len(before) == 5
    key = pipeline.export_key("daily", "2026-10-14")
    tags_before = pipeline.object_tags(key)

    single = pipeline.daily("2026-10-14")  # the same partition materialized alone, in a new run
    after = pipeline.s3_objects()
    assert after.keys() == before.keys()  # no stray keys
    assert after == before  # byte for byte, the range-materialized and the single-run object
    tags_after = pipeline.object_tags(key)
    assert tags_before.pop("run_id") == ranged.run_id
    assert tags_after.pop("run_id") == single.run_id
    assert (
        tags_after
        == tags_before
        == {
            "schema_version": SCHEMA_VERSION,
            "grain": "daily",
            "partition": "2026-10-14",
        }
    )
    head = pipeline.s3().head_object(Bucket=pipeline.bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256"


def _round_half_up(value: Fraction) -> int:
    return int((2 * value + 1) // 2)


def test_outage_day_is_a_flagged_gap_until_backfilled(make_pipeline) -> None:
    outage = date(2026, 10, 14)  # a Wednesday; the week of Monday 12 October is loaded whole
    pipeline: Pipeline = make_pipeline(queue_count=12, outage_days={outage})
    pipeline.directory()
    assert pipeline.daily(("2026-10-12", "2026-10-13")).success
    failed = pipeline.daily(outage.isoformat(), raise_on_error=False)
    assert not failed.success
    assert pipeline.daily(("2026-10-15", "2026-10-18")).success

    # The gap-refill sensor plans the missing day's estimate (and its week's rollup).
    context = dg.build_sensor_context(instance=pipeline.instance, definitions=defs)
    requests = list(gap_refills.gap_refill_sensor(context))
    assert [r.partition_key for r in requests if r.job_name == gap_refills.gap_refill_job.name] == [
        "2026-10-14"
    ]
    pipeline.daily(outage.isoformat(), assets=gap_refills.GAP_ASSETS)
    assert pipeline.weekly("2026-10-12").success
    # With the estimate (and the sources it recorded) and its week current, the sensor has nothing to do.
    idle = list(
        gap_refills.gap_refill_sensor(dg.build_sensor_context(instance=pipeline.instance, definitions=defs))
    )
    assert [type(request) for request in idle] == [dg.SkipReason]

    estimated = pipeline.export_frame("daily", outage.isoformat())
    assert estimated["is_interpolated"].all()
    assert set(estimated["fill_method"]) == {"linear"}
    assert estimated["wait_max_ms"].is_null().all()  # a maximum is not estimated
    assert assert_ratios_follow_their_sums(estimated.filter(pl.col("offered") > 0)) > 0

    # Every queue x media type x direction and measure: the estimated day total lies between the
    # neighbours' totals and is their linear estimate (the three days are 24 hours long), rounded once.
    def totals(day: str) -> dict[tuple[str, str, str], dict[str, int]]:
        frame = (
            pipeline.export_frame("daily", day)
            .group_by("queue_id", "media_type", "direction")
            .agg(pl.col(m).sum() for m in KPI_MEASURES)
        )
        return {(r["queue_id"], r["media_type"], r["direction"]): r for r in frame.iter_rows(named=True)}

    before, after, gap = totals("2026-10-13"), totals("2026-10-15"), totals(outage.isoformat())
    assert len(gap) >= 12 and gap.keys() == before.keys() == after.keys()
    deviations = {
        (pair, measure): row[measure] - Fraction(before[pair][measure] + after[pair][measure], 2)
        for pair, row in gap.items()
        for measure in KPI_MEASURES
    }
    for (pair, measure), deviation in deviations.items():
        low, high = before[pair][measure], after[pair][measure]
        assert min(low, high) <= gap[pair][measure] <= max(low, high), (pair, measure)
        assert gap[pair][measure] == _round_half_up(Fraction(low + high, 2)), (pair, measure, deviation)
    assert max(abs(deviation) for deviation in deviations.values()) <= Fraction(1, 2)

    # The weekly table of that week equals the sum of its seven daily exports, the estimate included.
    week_days = [pipeline.export_frame("daily", day.isoformat()) for day in localtime.week_days("2026-10-12")]
    channel = ["queue_id", "media_type", "direction"]
    summed = pl.concat(week_days).group_by(channel).agg(pl.col(m).sum() for m in KPI_MEASURES).sort(channel)
    weekly = pl.read_parquet(pipeline.lake_dir / "queue_kpis_weekly" / "2026-10-12.parquet")
    assert weekly.select(summed.columns).sort(channel).equals(summed)
    # Every channel has the gap day estimated; a channel whose first traffic came during the week (a
    # co-browse session riding on a chat) has no rows on the days before it, so it was observed on fewer.
    assert set(weekly["days_interpolated"]) == {1} and max(weekly["days_observed"]) == 6

    # The outage ends; the day is backfilled and comes out exact with its flags cleared.
    pipeline.sandbox.update(outage_days=frozenset())
    assert pipeline.daily(outage.isoformat()).success
    exact = pipeline.export_frame("daily", outage.isoformat())
    assert not exact["is_interpolated"].any()
    assert set(exact["fill_method"]) == {"observed"}
    assert (
        daily_sums(exact)
        .select(_truth(pipeline, outage, outage).columns)
        .equals(_truth(pipeline, outage, outage))
    )
    # The sensor now re-materializes the week so its flags clear too, and nothing else.
    requests = list(
        gap_refills.gap_refill_sensor(dg.build_sensor_context(instance=pipeline.instance, definitions=defs))
    )
    assert [(r.job_name, r.partition_key) for r in requests if isinstance(r, dg.RunRequest)] == [
        (automation.weekly_job.name, "2026-10-12")
    ]


def test_three_day_outage_is_refilled_by_one_run_over_its_range(make_pipeline) -> None:
    outage = [date(2026, 10, 14), date(2026, 10, 15), date(2026, 10, 16)]  # Wednesday to Friday
    pipeline: Pipeline = make_pipeline(queue_count=4, outage_days=set(outage))
    pipeline.directory()
    assert pipeline.daily(("2026-10-12", "2026-10-13")).success
    assert not pipeline.daily(("2026-10-14", "2026-10-16"), raise_on_error=False).success
    assert pipeline.daily(("2026-10-17", "2026-10-18")).success

    context = dg.build_sensor_context(instance=pipeline.instance, definitions=defs)
    refills = [
        r
        for r in gap_refills.gap_refill_sensor(context)
        if isinstance(r, dg.RunRequest) and r.job_name == gap_refills.gap_refill_job.name
    ]
    assert len(refills) == 1  # one run for the three days, not one per day
    (request,) = refills
    assert request.partition_key is None
    first, last = (
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    )
    assert (first, last) == ("2026-10-14", "2026-10-16")

    # That run, as the sensor asked for it, estimates all three days.
    result = pipeline.run(gap_refills.GAP_ASSETS, (first, last))
    assert result.success
    assert result.dagster_run.tags["dagster/asset_partition_range_end"] == "2026-10-16"
    for day in outage:
        estimated = pipeline.export_frame("daily", day.isoformat())
        assert estimated["is_interpolated"].all() and set(estimated["fill_method"]) == {"linear"}
    again = gap_refills.gap_refill_sensor(
        dg.build_sensor_context(instance=pipeline.instance, definitions=defs)
    )
    assert not [
        r for r in again if isinstance(r, dg.RunRequest) and r.job_name == gap_refills.gap_refill_job.name
    ]


def test_observed_means_materialized_not_a_file_in_the_lake(make_pipeline) -> None:
    outage = "2026-10-14"
    pipeline: Pipeline = make_pipeline(queue_count=4, outage_days={date.fromisoformat(outage)})
    pipeline.directory()
    assert pipeline.daily(("2026-10-12", "2026-10-13")).success
    assert not pipeline.daily(outage, raise_on_error=False).success
    assert pipeline.daily("2026-10-15").success
    # A file for the outage day that no materialization vouches for (a copy here) does not make it observed.
    folder = pipeline.lake_dir / "queue_interval_kpis"
    shutil.copy(folder / "2026-10-13.parquet", folder / f"{outage}.parquet")
    assert pipeline.daily(outage, assets=gap_refills.GAP_ASSETS).success
    assert pipeline.export_frame("daily", outage)["is_interpolated"].all()
    # A materialized neighbour whose file is gone is not quietly treated as a gap either.
    (folder / "2026-10-13.parquet").unlink()
    failed = pipeline.daily(outage, assets=gap_refills.GAP_ASSETS, raise_on_error=False)
    failure = step_failure(failed)
    assert failure.cls_name == "MissingPartitionError"
    assert "queue_interval_kpis is materialized for 2026-10-13 but the lake has no file" in failure.message


def test_daily_schedule_requests_the_lookback_range_as_one_run() -> None:
    tick = datetime(2026, 11, 23, 2, 30, tzinfo=ZoneInfo("America/New_York"))
    request = automation.genesys_daily_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert isinstance(request, dg.RunRequest)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-16"  # 7 days of lookback
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-22"
    weekly = automation.genesys_weekly_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert isinstance(weekly, dg.RunRequest) and weekly.partition_key == "2026-11-16"
    # Once a week the four weeks before the lookback are read again.
    sunday = datetime(2026, 11, 22, 3, 30, tzinfo=ZoneInfo("America/New_York"))
    sweep = automation.genesys_restatement_sweep_schedule(
        dg.build_schedule_context(scheduled_execution_time=sunday)
    )
    assert isinstance(sweep, dg.RunRequest)
    assert (
        sweep.tags["dagster/asset_partition_range_start"],
        sweep.tags["dagster/asset_partition_range_end"],
    ) == (
        "2026-10-18",  # the lookback of that night covers 2026-11-15..2026-11-21
        "2026-11-14",
    )


def test_a_restatement_four_days_late_is_picked_up_by_the_nightly_runs(make_pipeline) -> None:
    day = date(2026, 10, 20)
    ny = ZoneInfo("America/New_York")
    pipeline: Pipeline = make_pipeline(queue_count=3, restated_days={day: 1}, restatement_delay_days=4)
    pipeline.directory()

    def nightly(offset: int) -> dg.ExecuteInProcessResult:
        """The daily schedule's run of the night `offset` days after the day, on the sandbox's clock."""
        tick = datetime.combine(day + timedelta(days=offset), datetime.min.time(), tzinfo=ny) + timedelta(
            hours=2.5
        )
        pipeline.sandbox.update(clock=tick)
        request = automation.genesys_daily_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
        assert isinstance(request, dg.RunRequest)
        tags = request.tags
        return pipeline.daily(
            (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])
        )

    def interval_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
        event = next(
            e
            for e in result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey("queue_interval_kpis") and e.partition == day.isoformat()
        )
        return {k: v.value for k, v in event.materialization.metadata.items()}

    nightly(1)
    original = daily_sums(pipeline.export_frame("daily", day.isoformat()))
    assert original.select(_truth(pipeline, day, day).columns).equals(_truth(pipeline, day, day))
    unchanged = nightly(4)  # the restatement is not visible yet: the re-read changes nothing
    assert interval_metadata(unchanged)["restated_rows"] == 0
    picked_up = nightly(5)  # visible from midnight four days after the day's end
    restated = daily_sums(pipeline.export_frame("daily", day.isoformat()))
    assert not restated.equals(original)
    assert restated.select(_truth(pipeline, day, day).columns).equals(_truth(pipeline, day, day))
    recorded = interval_metadata(picked_up)
    assert recorded["restated_rows"] > 0
    for measure in ("offered", "answered", "abandoned", "handle_count"):
        assert recorded[f"restated_{measure}"] == restated[measure].sum() - original[measure].sum()
    logged = [entry.user_message for entry in pipeline.instance.all_logs(picked_up.run_id)]
    assert any(f"Re-read of {day.isoformat()} restated its figures" in text for text in logged)
    assert interval_metadata(nightly(7))["restated_rows"] == 0  # the last re-read of the day
