"""A range run under a small row budget: many batches and short queries, the same objects as the default.

`GENESYS_BATCH_ROWS` sizes every batch of a range run (and the raw step's queries), so memory follows the
budget, not the org. Cutting the range into more pieces must change nothing an analyst reads: the export
objects are byte-identical to those of a run under the default budget, across a DST week.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import date

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genesys_assets import config, localtime
from genesys_assets.defs import genesys_raw, lake_export, queue_kpis
from genesys_assets.schema import KPI_MEASURES
from genesys_assets_tests.pipeline_fixtures import Pipeline, daily_sums

pytestmark = pytest.mark.e2e

FIRST, LAST = "2026-03-05", "2026-03-12"  # America/New_York springs forward on 2026-03-08
QUEUES = 10
BUDGET = 3_000


def _run_metadata(pipeline: Pipeline, asset: str) -> dict[str, object]:
    """The run-level figures the step put on its last partition's materialization."""
    record = pipeline.instance.fetch_materializations(dg.AssetKey(asset), limit=1).records[0]
    materialization = record.asset_materialization
    assert materialization is not None
    return {key: value.value for key, value in materialization.metadata.items()}


def test_a_small_row_budget_writes_the_same_objects_in_more_batches(
    make_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    default = make_pipeline(queue_count=QUEUES)
    default.directory()
    default.daily((FIRST, LAST))
    expected = default.s3_objects()

    small = make_pipeline(queue_count=QUEUES)
    # The setting as the environment gives it, read and checked like every variable; only the assets that
    # batch read it at run time.
    budget = config.read({**os.environ, "GENESYS_BATCH_ROWS": str(BUDGET)})
    assert budget.pipeline == dataclasses.replace(config.SETTINGS.pipeline, batch_rows=BUDGET)
    for module in (genesys_raw, queue_kpis, lake_export):
        monkeypatch.setattr(module, "SETTINGS", budget)
    small.directory()
    small.daily((FIRST, LAST))

    assert small.s3_objects() == expected
    assert len(expected) == 8

    # What an analyst sums, against the sandbox's own truth: each queue x channel x day, and each channel over
    # the range (the DST day included).
    keys = ["local_date", "queue_id", "media_type", "direction"]
    days = [d.isoformat() for d in localtime.iter_days(date.fromisoformat(FIRST), date.fromisoformat(LAST))]
    exported = daily_sums(pl.concat(small.export_frame("daily", day) for day in days)).sort(keys)
    truth = small.sandbox.truth.daily_frame(date.fromisoformat(FIRST), date.fromisoformat(LAST)).sort(keys)
    assert exported.height == truth.height > 0
    assert exported.select(truth.columns).equals(truth)
    channel = ["media_type", "direction"]
    measures = [name for name in KPI_MEASURES if name in truth.columns]
    assert (
        exported.group_by(channel)
        .agg(pl.col(measures).sum())
        .sort(channel)
        .equals(truth.group_by(channel).agg(pl.col(measures).sum()).sort(channel))
    )
    for day in (FIRST, "2026-03-08", LAST):
        name = f"{day}.parquet"
        stored, reference = (
            pl.read_parquet(p.lake_dir / "raw_queue_aggregates" / name).drop("extracted_at")
            for p in (small, default)
        )
        assert_frame_equal(stored, reference)

    # This org's days hold about 1,300 rows: the default budget would take the 8 days at once after the first,
    # but batches at most double (1, 2, 4, 1 days); the small one holds two of them (1, 2, 2, 2, 1 days).
    daily_rows = _run_metadata(default, "queue_interval_kpis")["largest_day_rows"]
    assert isinstance(daily_rows, int) and BUDGET // 3 < daily_rows <= BUDGET // 2
    for asset in ("queue_interval_kpis", "queue_kpis_daily", "queue_export_daily"):
        assert _run_metadata(default, asset)["batches"] == 4
        assert _run_metadata(small, asset)["batches"] == 5
    # The raw step's queries hold their share of the budget too: a day each instead of a week.
    assert _run_metadata(default, "raw_queue_aggregates")["query_chunks"] == 2
    assert _run_metadata(small, "raw_queue_aggregates")["query_chunks"] == 8
