"""The whole pipeline against real servers: a sandbox org, a moto S3 on 127.0.0.1, a temp lake and instance.

``pipeline`` (function scope) gives a `Pipeline` whose resources come from `defs.resources.build_resources`
with the environment pointed at the test's own servers, exactly as a deployment configures them. Runs go
through `dagster.materialize` on a real (temporary) Dagster instance, checks included.

``make_pipeline(**sandbox_knobs)`` builds one on a sandbox with changed knobs (faults, outage days, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from genesys_assets import config
from genesys_assets.definitions import defs
from genesys_assets.defs.automation import DAILY_ASSETS, WEEKLY_ASSETS, range_tags
from genesys_assets.defs.resources import build_resources
from genesys_assets.lake.export_writer import Grain, export_key
from genesys_assets.sandbox import SandboxServer
from genesys_assets.schema import KPI_MAXIMA, KPI_MEASURES
from genesys_assets_tests.s3_fixtures import s3_client_for

__all__ = [
    "Pipeline",
    "assert_ratios_follow_their_sums",
    "daily_sums",
    "make_pipeline",
    "pipeline",
    "pipeline_env",
]

EXPORT_PREFIX = "lake"


def pipeline_env(sandbox: SandboxServer, root: Path, bucket: str, **overrides: str) -> dict[str, str]:
    """The environment a deployment sets, pointed at the sandbox org, a moto bucket and folders under root."""
    return {
        "GENESYS_CLIENT_ID": sandbox.client_id,
        "GENESYS_CLIENT_SECRET": sandbox.client_secret,
        "GENESYS_API_URL": sandbox.url,
        "GENESYS_LOGIN_URL": sandbox.url,
        "GENESYS_REQUESTS_PER_SECOND": "200",
        "GENESYS_BURST": "50",
        "GENESYS_MAX_ATTEMPTS": "3",
        "GENESYS_RATE_LIMIT_DIR": str(root / "ratelimit"),
        "GENESYS_LAKE_DIR": str(root / "lake"),
        "EXPORT_S3_BUCKET": bucket,
        "EXPORT_S3_PREFIX": EXPORT_PREFIX,
        **overrides,
    }


def daily_sums(frame: pl.DataFrame) -> pl.DataFrame:
    """Per queue x media type x direction x local date, the measures summed over the intervals and the
    maxima's largest value, zero rows dropped."""
    return (
        frame.group_by("local_date", "queue_id", "media_type", "direction")
        .agg(*[pl.col(m).sum() for m in KPI_MEASURES], *[pl.col(m).max() for m in KPI_MAXIMA])
        .filter(pl.any_horizontal(pl.col(m) != 0 for m in KPI_MEASURES))
        .sort("local_date", "queue_id", "media_type", "direction")
    )


# Each exported ratio and the sums it must equal, written out here rather than taken from the code under test.
_RATIO_FORMULAS: dict[str, tuple[str, str, float]] = {
    "aht_s": ("handle_sum_ms", "handle_count", 1000.0),
    "asa_s": ("answer_sum_ms", "answered", 1000.0),
    "answer_rate": ("answered", "offered", 1.0),
    "abandon_rate": ("abandoned", "offered", 1.0),
    "service_level": ("sl_numerator", "sl_denominator", 1.0),
    "avg_talk_s": ("talk_sum_ms", "talk_count", 1000.0),
    "avg_hold_s": ("hold_sum_ms", "hold_count", 1000.0),
    "avg_acw_s": ("acw_sum_ms", "acw_count", 1000.0),
    "avg_wait_s": ("wait_sum_ms", "wait_count", 1000.0),
    "avg_abandon_s": ("abandon_sum_ms", "abandoned", 1000.0),
}


def assert_ratios_follow_their_sums(frame: pl.DataFrame) -> int:
    """Every ratio of every row equals its numerator / denominator (null over 0; abandon rate null for
    message and email, where Genesys counts no abandons). Returns the number of non-null ratios checked."""
    checked = 0
    for row in frame.iter_rows(named=True):
        for ratio, (numerator, denominator, divisor) in _RATIO_FORMULAS.items():
            undefined = ratio == "abandon_rate" and row["media_type"] in ("message", "email")
            if undefined or not row[denominator]:
                assert row[ratio] is None, (ratio, row)
                continue
            expected = row[numerator] / row[denominator] / divisor
            assert row[ratio] == pytest.approx(expected, rel=1e-12), (ratio, row)
            checked += 1
    return checked


@dataclass
class Pipeline:
    """One pipeline deployment for a test: servers, lake folder, instance and resources."""

    sandbox: SandboxServer
    s3_url: str
    bucket: str
    lake_dir: Path
    instance: dg.DagsterInstance
    resources: dict[str, Any] = field(default_factory=dict)

    def run(
        self,
        selection: Sequence[str],
        partitions: str | tuple[str, str] | None = None,
        *,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        """Materialize `selection` (with its checks) for one partition key or an inclusive range (one run)."""
        partition_key = partitions if isinstance(partitions, str) else None
        tags = range_tags(*partitions) if isinstance(partitions, tuple) else {}
        return dg.materialize(
            list(defs.assets or []),
            selection=dg.AssetSelection.assets(*selection),
            resources=self.resources,
            instance=self.instance,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=raise_on_error,
        )

    def directory(self) -> dg.ExecuteInProcessResult:
        return self.run(["genesys_queues"])

    def daily(
        self,
        partitions: str | tuple[str, str],
        *,
        assets: Sequence[str] = DAILY_ASSETS,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        return self.run(assets, partitions, raise_on_error=raise_on_error)

    def weekly(self, partitions: str | tuple[str, str]) -> dg.ExecuteInProcessResult:
        return self.run(WEEKLY_ASSETS, partitions)

    def weekly_table(self, week: str) -> pl.DataFrame:
        """The stored `queue_kpis_weekly` partition of a week."""
        return pl.read_parquet(self.lake_dir / "queue_kpis_weekly" / f"{week}.parquet")

    def s3(self) -> Any:
        return s3_client_for(self.s3_url)

    def s3_objects(self) -> dict[str, bytes]:
        """Every object of the bucket, key -> body."""
        client = self.s3()
        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            for item in page.get("Contents", [])
        ]
        return {key: client.get_object(Bucket=self.bucket, Key=key)["Body"].read() for key in keys}

    def export_key(self, grain: Grain, partition_key: str) -> str:
        return export_key(EXPORT_PREFIX, grain, partition_key)

    def export_frame(self, grain: str, partition_key: str) -> pl.DataFrame:
        body = (
            self.s3().get_object(Bucket=self.bucket, Key=self.export_key(grain, partition_key))["Body"].read()
        )
        return pl.read_parquet(body)

    def object_tags(self, key: str) -> dict[str, str]:
        tags = self.s3().get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tags}


@pytest.fixture
def make_pipeline(
    make_sandbox: Callable[..., SandboxServer], moto_s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Pipeline]]:
    instances: list[Any] = []

    def factory(**sandbox_knobs: Any) -> Pipeline:
        sandbox = make_sandbox(**sandbox_knobs)
        bucket = f"lake-{uuid.uuid4().hex[:12]}"
        s3_client_for(moto_s3).create_bucket(Bucket=bucket)
        root = tmp_path / f"pipeline-{len(instances)}"
        lake_dir = root / "lake"
        for name, value in pipeline_env(sandbox, root, bucket).items():
            monkeypatch.setenv(name, value)
        (root / "dagster_home").mkdir(parents=True)
        instance_cm = dg.instance_for_test(temp_dir=str(root / "dagster_home"))
        instance = instance_cm.__enter__()
        instances.append(instance_cm)
        return Pipeline(
            sandbox=sandbox,
            s3_url=moto_s3,
            bucket=bucket,
            lake_dir=lake_dir,
            instance=instance,
            resources=build_resources(config.read()),
        )

    yield factory
    for instance_cm in reversed(instances):
        instance_cm.__exit__(None, None, None)


@pytest.fixture
def pipeline(make_pipeline: Callable[..., Pipeline]) -> Pipeline:
    """A pipeline on the default sandbox org (4 queues, America/New_York, 2026)."""
    return make_pipeline()
