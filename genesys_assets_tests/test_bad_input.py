"""Bad input corpus: credentials, permissions, regions, broken answers, contract violations, settings, S3.

Every case runs the real thing (a Dagster run against the sandbox org and the S3 server on 127.0.0.1, or the
settings parser where the pipeline refuses to load) and asserts:

* the exact error class, unwrapped from Dagster's step failure;
* that the message names the cause and the fix;
* that nothing was written for the partition: no S3 object and no lake file of the failing asset (a failure
  in the export step leaves the intermediate partitions it read, which are complete and correct);
* for data-contract violations, that the blocking check failed with a description of the problem and the
  export was not materialized; for tolerated oddities, that the run succeeds and the figures are right.

Most cases share one pipeline on the module's sandbox org, each on its own partition day; the sandbox knobs,
the environment and the resources are put back after each case.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from genesys_assets import config
from genesys_assets.config import SettingsError
from genesys_assets.defs.automation import DAILY_ASSETS
from genesys_assets.defs.failures import NOT_RETRIED_TAG
from genesys_assets.defs.resources import build_resources
from genesys_assets.sandbox import SandboxServer
from genesys_assets.sandbox.config import PERMISSION_AGGREGATES, PERMISSION_QUEUES
from genesys_assets.schema import EXPORT_DAILY, KPI_MEASURES
from genesys_assets.transforms.kpis import CHANNEL_KEYS
from genesys_assets_tests.pipeline_fixtures import Pipeline, daily_sums, pipeline_env
from genesys_assets_tests.reliability_helpers import (
    REPO,
    check_evaluations,
    lake_files,
    log_messages,
    materialized,
    step_failure,
)
from genesys_assets_tests.s3_fixtures import (
    CannedS3Server,
    restricted_s3_credentials,
    s3_client_for,
    s3_error,
    unused_port,
)

pytestmark = pytest.mark.e2e  # runs Dagster (and child processes)

RAW = "raw_queue_aggregates"
EXPORT = "queue_export_daily"


# ------------------------------------------------------------------------------------------ the pipeline


@pytest.fixture(scope="module")
def shared(
    sandbox: SandboxServer, moto_s3: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """One pipeline on the module's sandbox org, with the queue directory already materialized."""
    root = tmp_path_factory.mktemp("bad-input")
    bucket = f"bad-input-{uuid.uuid4().hex[:12]}"
    s3_client_for(moto_s3).create_bucket(Bucket=bucket)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in pipeline_env(sandbox, root, bucket).items():
            patch.setenv(name, value)
        (root / "home").mkdir()
        with dg.instance_for_test(temp_dir=str(root / "home")) as instance:
            pipeline = Pipeline(
                sandbox=sandbox,
                s3_url=moto_s3,
                bucket=bucket,
                lake_dir=root / "lake",
                instance=instance,
                resources=build_resources(config.read()),
            )
            assert pipeline.directory().success
            yield pipeline


@pytest.fixture
def pipeline(shared: Pipeline) -> Iterator[Pipeline]:
    """In this module, ``pipeline`` is the shared pipeline (it overrides the conftest fixture of that name);
    the sandbox knobs and resources a case changes are put back afterwards."""
    resources = dict(shared.resources)
    before = shared.sandbox.config
    yield shared
    after = shared.sandbox.config
    changed = [
        f.name for f in dataclasses.fields(before) if getattr(after, f.name) != getattr(before, f.name)
    ]
    shared.sandbox.update(**{name: getattr(before, name) for name in changed})
    shared.resources = resources


def _objects_for(pipeline: Pipeline, days: list[str]) -> list[str]:
    client = pipeline.s3()
    keys = []
    for day in days:
        listing = client.list_objects_v2(Bucket=pipeline.bucket, Prefix=pipeline.export_key("daily", day))
        keys += [item["Key"] for item in listing.get("Contents", [])]
    return keys


def _lake_files_for(pipeline: Pipeline, days: list[str]) -> list[str]:
    return sorted(path for path in lake_files(pipeline.lake_dir) if any(f"/{day}." in path for day in days))


def _days(first: str, last: str | None = None) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last or first)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _truth(pipeline: Pipeline, day: str) -> pl.DataFrame:
    when = date.fromisoformat(day)
    return pipeline.sandbox.truth.daily_frame(when, when)


# ------------------------------------------------------------------------------------------ failing runs


@dataclass(frozen=True)
class Failing:
    """A run that must fail in ``step`` with ``error`` whose message contains every string of ``says``."""

    error: str
    says: tuple[str, ...]
    knobs: dict[str, Any] = field(default_factory=dict)  # sandbox knobs for the run
    env: dict[str, str | None] = field(default_factory=dict)  # environment for the run (None = unset)
    rebuild: bool = False  # build the resources again from the changed environment
    step: str = RAW
    days: tuple[str, str] | None = None  # a range run instead of the case's own day
    assets: tuple[str, ...] | None = None  # default: the daily job's assets
    never_in_message: tuple[str, ...] = ()


CREDENTIALS_FIX = "Check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET"
RETRY_BUDGET = "Gave up after 3 attempt(s)"
FAILING: dict[str, Failing] = {
    "wrong_client_id": Failing(
        "CredentialsRejected",
        ("rejected the client credentials (HTTP 401)", "invalid_client", CREDENTIALS_FIX),
        env={"GENESYS_CLIENT_ID": "not-our-client"},
    ),
    "wrong_client_secret": Failing(
        "CredentialsRejected",
        ("rejected the client credentials (HTTP 401)", CREDENTIALS_FIX, "GENESYS_REGION"),
        env={"GENESYS_CLIENT_SECRET": "wrong-secret-7f3a9c"},
        never_in_message=("wrong-secret-7f3a9c",),
    ),
    "login_answers_400": Failing(
        "CredentialsRejected",
        ("rejected the client credentials (HTTP 400)", CREDENTIALS_FIX),
        knobs={"auth_error_status": 400},
        env={"GENESYS_CLIENT_SECRET": "wrong-secret-400"},
        never_in_message=("wrong-secret-400",),
    ),
    "empty_client_secret": Failing(
        "ValueError",
        ("client_secret is empty", "set GENESYS_CLIENT_SECRET"),
        env={"GENESYS_CLIENT_SECRET": ""},
    ),
    "fresh_token_refused": Failing(
        "CredentialsRejected",
        ("HTTP 401", "credentials.expired", "A freshly issued token was refused too", "GENESYS_REGION"),
        knobs={"fault_rates": {"expired_token": 1.0}},
    ),
    "missing_aggregates_permission": Failing(
        "MissingPermission",
        (f"lacks permission '{PERMISSION_AGGREGATES}'", "(HTTP 403)", "Add it to the client's role"),
        knobs={"permissions": (PERMISSION_QUEUES,)},
    ),
    "missing_queue_permission": Failing(
        "MissingPermission",
        (
            f"lacks permission '{PERMISSION_QUEUES}'",
            "GET /api/v2/routing/queues",
            "Add it to the client's role",
        ),
        knobs={"permissions": (PERMISSION_AGGREGATES,)},
        step="genesys_queues",
        assets=("genesys_queues",),
    ),
    "malformed_json": Failing(
        "UnexpectedResponse",
        ("not valid JSON", "truncated or is not JSON", "check proxies", RETRY_BUDGET),
        knobs={"fault_rates": {"malformed": 1.0}},
    ),
    "truncated_json": Failing(
        "UnexpectedResponse",
        ("not valid JSON", "Content-Length", "truncated", RETRY_BUDGET),
        knobs={"fault_rates": {"truncated": 1.0}},
    ),
    "html_page_with_200": Failing(
        "UnexpectedResponse",
        ("with an HTML page", "HTTP 200", "instead of JSON", "GENESYS_API_URL"),
        knobs={"fault_rates": {"html200": 1.0}},
    ),
    "proxy_502_page": Failing(
        "ServerUnavailable",
        ("HTTP 502 (an HTML error page from a proxy)", "retry later", RETRY_BUDGET),
        knobs={"fault_rates": {"502": 1.0}},
    ),
    "outage_503": Failing(
        "ServerUnavailable",
        ("HTTP 503", "service.unavailable", "retry later", RETRY_BUDGET),
        knobs={"outage_days": "DAY"},
    ),
    "rate_limited_429": Failing(
        "RateLimitExhausted",
        ("rate limit hit", "HTTP 429", "GENESYS_REQUESTS_PER_SECOND", RETRY_BUDGET),
        knobs={"fault_rates": {"429": 1.0}},
    ),
    "connection_reset_every_time": Failing(
        "ServerUnavailable",
        ("RemoteProtocolError", "is reachable", "retry later", RETRY_BUDGET),
        knobs={"fault_rates": {"reset": 1.0}},
    ),
    "read_timeout": Failing(
        "ServerUnavailable",
        ("timed out (ReadTimeout) after 0.5 s", "Raise timeout_s", RETRY_BUDGET),
        knobs={"fault_rates": {"slow": 1.0}, "slow_seconds": 1.5},
        env={"GENESYS_TIMEOUT_S": "0.5"},
        rebuild=True,
    ),
    "api_host_unreachable": Failing(
        "ServerUnavailable",
        (
            "POST /oauth/token could not be sent: ConnectError",
            "is reachable",
            "GENESYS_API_URL",
            RETRY_BUDGET,
        ),
        env={"GENESYS_API_URL": "UNUSED_URL", "GENESYS_LOGIN_URL": "UNUSED_URL"},
        rebuild=True,
    ),
    "answer_too_large_for_one_day": Failing(
        "BadRequest",
        (
            "refused the aggregates query for the single day 2026-06-01 as too large",
            "more than the maximum of 5",
            "GENESYS_MAX_QUEUE_PREDICATES",
            "GENESYS_GRANULARITY",
        ),
        knobs={"max_answer_entries": 5},
        days=("2026-06-01", "2026-06-04"),
    ),
    "aggregates_job_failed": Failing(
        "JobFailed",
        ("ended FAILED", "Submit it again later", "GENESYS_MAX_JOB_DAYS", "GENESYS_FETCH_MODE=sync"),
        knobs={"job_fail": True, "job_polls": 0},
        days=("2026-07-01", "2026-07-31"),  # a month: one asynchronous job beats five queries
    ),
    "non_numeric_stat": Failing(
        "AggregatesFormatError",
        ("stats.count is '12O4', not a number", "metric 'nOffered'", "must be integers"),
        knobs={"mutation": "non_numeric"},
    ),
    "null_queue_id": Failing(
        "AggregatesFormatError",
        ("has queueId None", "must give it a non-empty string", "partial group leaves the key out"),
        knobs={"mutation": "null_queue"},
    ),
    "interval_outside_the_partition": Failing(
        "AggregatesFormatError",
        ("lies outside the queried window", "does not belong to this query"),
        knobs={"mutation": "outside_interval"},
    ),
    "misaligned_interval": Failing(
        "AggregatesFormatError",
        ("not on a 30-minute boundary", "same timeZone and granularity"),
        knobs={"mutation": "misaligned"},
    ),
    "lake_folder_is_a_file": Failing(
        "LakeStorageError",
        ("Cannot write", "Not a directory", "GENESYS_LAKE_DIR", "writable folder"),
        env={"GENESYS_LAKE_DIR": "LAKE_FILE"},
        rebuild=True,
    ),
}
RETRY_MAY_CURE = {
    "UnexpectedResponse",
    "ServerUnavailable",
    "RateLimitExhausted",
    "JobFailed",
    "LakeStorageError",
}
FAILING_DAYS = {name: (date(2026, 9, 1) + timedelta(days=i)).isoformat() for i, name in enumerate(FAILING)}


@pytest.mark.parametrize("name", list(FAILING))
def test_failing_input(
    name: str, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case = FAILING[name]
    day = FAILING_DAYS[name]
    days = _days(*case.days) if case.days else [day]
    knobs = {k: (frozenset({date.fromisoformat(day)}) if v == "DAY" else v) for k, v in case.knobs.items()}
    lake_file = tmp_path / "not-a-folder"
    lake_file.write_bytes(b"a file where the lake folder should be")
    for variable, value in case.env.items():
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            value = {"UNUSED_URL": f"http://127.0.0.1:{unused_port()}", "LAKE_FILE": str(lake_file)}.get(
                value, value
            )
            monkeypatch.setenv(variable, value)
    if case.rebuild:
        pipeline.resources = build_resources(config.read())
    directory_before = (pipeline.lake_dir / "genesys_queues.parquet").read_bytes()
    pipeline.sandbox.update(**knobs)

    partitions: str | tuple[str, str] | None = (days[0], days[-1]) if len(days) > 1 else days[0]
    if case.assets == ("genesys_queues",):
        partitions = None  # the directory is not partitioned
    result = pipeline.run(list(case.assets or DAILY_ASSETS), partitions, raise_on_error=False)

    failure = step_failure(result)
    assert (failure.step_key, failure.cls_name) == (case.step, case.error), failure.text[:2000]
    for part in case.says:
        assert part in failure.message, f"{part!r} not in: {failure.message}"
    for secret in (pipeline.sandbox.client_secret, *case.never_in_message):
        assert secret not in failure.message
    # Nothing written: no lake file for the days, no export object, the directory untouched.
    assert _lake_files_for(pipeline, days) == []
    assert _objects_for(pipeline, days) == []
    assert not {asset for asset, _ in materialized(result)} & {RAW, EXPORT, "genesys_queues"}
    assert (pipeline.lake_dir / "genesys_queues.parquet").read_bytes() == directory_before
    assert lake_file.read_bytes() == b"a file where the lake folder should be"
    # Run retries leave a run failed that a retry would fail again (credentials, permissions, settings); faults
    # of the server, the network or the disk may be gone by the retry.
    tags = pipeline.instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    retry_may_cure = case.error in RETRY_MAY_CURE
    assert tags.get(NOT_RETRIED_TAG) == (None if retry_may_cure else "false"), case.error


def test_unset_client_secret_stops_the_run_before_any_step(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = "2026-08-03"
    monkeypatch.delenv("GENESYS_CLIENT_SECRET")
    with pytest.raises(dg.DagsterInvalidConfigError) as caught:
        pipeline.daily(day, raise_on_error=False)
    message = str(caught.value)
    assert 'environment variable "GENESYS_CLIENT_SECRET" which is not set' in message
    assert "must be set in this environment" in message
    assert _lake_files_for(pipeline, [day]) == [] and _objects_for(pipeline, [day]) == []


# ------------------------------------------------------------------------------------------ blocking checks


@pytest.mark.parametrize(
    ("mutation", "day", "description"),
    [
        ("negative_count", "2026-08-10", "rows hold negative counts or sums"),
        ("duplicate_group", "2026-08-11", "occur more than once"),
        ("sl_overflow", "2026-08-12", "rows have a service-level numerator above its denominator"),
    ],
)
def test_contract_violation_blocks_the_export_in_the_same_run(
    mutation: str, day: str, description: str, pipeline: Pipeline
) -> None:
    pipeline.sandbox.update(mutation=mutation)
    result = pipeline.daily(day, raise_on_error=False)

    failure = step_failure(result)  # the check runs in the asset's own step, on the frames it just stored
    assert (failure.step_key, failure.cls_name) == (RAW, "DagsterAssetCheckFailedError")
    check = check_evaluations(result)["raw_data_contract"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert description in (check.description or "")
    assert check.metadata["failing_sample"].value  # the offending rows, for the UI
    # The raw partition is stored (and flagged); nothing downstream ran, nothing reached S3.
    assert materialized(result) == {(RAW, day)}
    assert _lake_files_for(pipeline, [day]) == [f"{RAW}/{day}.parquet"]
    assert _objects_for(pipeline, [day]) == []
    # The same answer would fail the check again: the run is marked so run retries leave it failed.
    assert pipeline.instance.get_run_by_id(result.run_id).tags[NOT_RETRIED_TAG] == "false"  # type: ignore[union-attr]


def test_answered_above_offered_does_not_block_the_export(pipeline: Pipeline) -> None:
    day = "2026-08-13"
    result = pipeline.daily(day)
    assert result.success and (EXPORT, day) in materialized(result)
    exported = pipeline.export_frame("daily", day)
    over = exported.filter(pl.col("answered") > pl.col("offered"))
    assert over.height > 0  # intervals where calls offered earlier were answered: real data, kept
    assert (over["answer_rate"] > 1).all()
    assert all(
        e.passed for e in check_evaluations(result).values() if e.severity == dg.AssetCheckSeverity.ERROR
    )


# ------------------------------------------------------------------------------------------ tolerated input


@pytest.mark.parametrize(
    ("knobs", "day"),
    [
        ({"mutation": "extra_fields"}, "2026-08-17"),  # unknown fields at every level
        (
            {"mutation": "partial_group"},
            "2026-08-18",
        ),  # a partial group without queueId: kept raw, not in KPIs
        ({"float_stats": True}, "2026-08-19"),  # sums and counts sent as 1234.0
    ],
    ids=["unexpected_new_fields", "partial_group", "float_statistics"],
)
def test_tolerated_answers_give_exact_figures(knobs: dict[str, Any], day: str, pipeline: Pipeline) -> None:
    pipeline.sandbox.update(**knobs)
    result = pipeline.daily(day)
    assert result.success and (EXPORT, day) in materialized(result)
    exported = daily_sums(pipeline.export_frame("daily", day))
    truth = _truth(pipeline, day)
    assert exported.height == truth.height > 0
    assert exported.select(truth.columns).equals(truth)


def test_an_org_that_refuses_week_long_queries_still_gives_exact_days(pipeline: Pipeline) -> None:
    pipeline.sandbox.update(max_query_days=3)  # the client starts with 7-day queries
    first, last = "2026-10-12", "2026-10-18"
    result = pipeline.daily((first, last))
    assert result.success
    said = [line for line in log_messages(pipeline.instance, result.run_id) if "as too large" in line]
    assert said and "refused the aggregates query for 2026-10-12..2026-10-18 (7 days)" in said[0]
    assert "querying 2026-10-12..2026-10-15 and 2026-10-16..2026-10-18 instead" in said[0]
    for day in _days(first, last):
        exported = daily_sums(pipeline.export_frame("daily", day))
        truth = _truth(pipeline, day)
        assert exported.height == truth.height > 0
        assert exported.select(truth.columns).equals(truth)


def test_metric_missing_from_the_answer_counts_as_no_activity(pipeline: Pipeline) -> None:
    day = "2026-08-20"
    pipeline.sandbox.update(mutation="missing_metric")  # tHandle dropped from every bucket
    result = pipeline.daily(day)
    assert result.success
    exported = pipeline.export_frame("daily", day)
    assert exported["handle_count"].sum() == 0 and exported["handle_sum_ms"].sum() == 0
    assert exported["aht_s"].is_null().all()  # no handled conversation: undefined, never 0
    others = [m for m in KPI_MEASURES if m not in ("handle_count", "handle_sum_ms")]
    truth = _truth(pipeline, day).select("local_date", *CHANNEL_KEYS, *others)
    assert (
        daily_sums(exported)
        .select(truth.columns)
        .filter(pl.any_horizontal(pl.col(m) != 0 for m in others))
        .equals(truth.filter(pl.any_horizontal(pl.col(m) != 0 for m in others)))
    )


def test_day_without_any_activity_is_zero_not_a_gap(pipeline: Pipeline) -> None:
    day = "2026-08-21"
    pipeline.sandbox.update(quiet_days=frozenset({date.fromisoformat(day)}))
    result = pipeline.daily(day)
    assert result.success
    exported = pipeline.export_frame("daily", day)
    assert exported.height == exported.select(*CHANNEL_KEYS).unique().height * 48 > 0
    assert all(exported[m].sum() == 0 for m in KPI_MEASURES)
    assert exported["answer_rate"].is_null().all() and exported["service_level"].is_null().all()
    assert not exported["is_interpolated"].any() and set(exported["fill_method"]) == {"observed"}


def test_empty_org_exports_an_empty_table(make_pipeline: Callable[..., Pipeline]) -> None:
    empty = make_pipeline(queue_count=0)
    assert empty.directory().success
    result = empty.daily("2026-08-24")
    assert result.success
    exported = empty.export_frame("daily", "2026-08-24")
    assert exported.height == 0 and exported.schema == EXPORT_DAILY


def test_partition_before_a_queue_existed_leaves_it_out_of_the_grid(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    grown = make_pipeline(new_queue_share=0.5)
    assert grown.directory().success
    queues = pl.read_parquet(grown.lake_dir / "genesys_queues.parquet")
    created = queues.filter(pl.col("date_created") > pl.datetime(2026, 9, 1, time_zone="UTC")).row(
        0, named=True
    )
    local_day = created["date_created"].astimezone(ZoneInfo(grown.sandbox.config.timezone)).date()
    before, after = (local_day - timedelta(days=1)).isoformat(), (local_day + timedelta(days=1)).isoformat()
    assert grown.daily((before, after)).success
    assert created["queue_id"] not in set(grown.export_frame("daily", before)["queue_id"])
    assert created["queue_id"] in set(grown.export_frame("daily", after)["queue_id"])


def test_queue_missing_from_the_directory_is_kept_under_a_placeholder_name(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    org = make_pipeline(queue_count=3)
    assert org.directory().success
    org.sandbox.update(queue_count=4)  # a queue created after the directory was read
    day = "2026-08-25"
    assert org.daily(day).success
    exported = org.export_frame("daily", day)
    known = set(pl.read_parquet(org.lake_dir / "genesys_queues.parquet")["queue_id"])
    newcomer = exported.filter(~pl.col("queue_id").is_in(list(known)))
    assert newcomer.height > 0
    assert set(newcomer["queue_name"]) == {f"unknown queue {newcomer['queue_id'][0]}"}
    truth = _truth(org, day)
    assert daily_sums(exported).select(truth.columns).equals(truth)


def test_service_level_target_sent_as_a_percentage_is_normalised(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    org = make_pipeline(sl_percentage_scale=100.0)  # mediaSettings serviceLevel.percentage = 80.0
    assert org.directory().success
    levels = (
        pl.read_parquet(org.lake_dir / "genesys_queues.parquet")
        .explode("service_levels")
        .unnest("service_levels")
    )
    assert set(levels["media_type"]) == {"voice", "callback", "chat", "email", "message"}
    targets = levels["target"]
    assert targets.is_not_null().all() and ((targets > 0) & (targets <= 1)).all()


# ------------------------------------------------------------------------------------------ settings


TODAY = date(2026, 11, 23)
GOOD_ENV = {"GENESYS_TIMEZONE": "America/New_York", "GENESYS_START_DATE": "2026-01-01"}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"GENESYS_TIMEZONE": "Mars/Olympus_Mons"},
            ("GENESYS_TIMEZONE=Mars/Olympus_Mons is not an IANA timezone", "GENESYS_TIMEZONE=UTC"),
        ),
        (
            {"GENESYS_START_DATE": "2026-12-24"},
            ("GENESYS_START_DATE=2026-12-24 is not in the past", "earlier date"),
        ),
        (
            {"GENESYS_START_DATE": "2026-11-23"},
            ("is not in the past (today is 2026-11-23", "completed local day"),
        ),
        (
            {"GENESYS_START_DATE": "01/02/2026"},
            ("GENESYS_START_DATE='01/02/2026' is not an ISO date", "2026-01-01"),
        ),
        (
            {"GENESYS_GRANULARITY": "PT5M"},
            ("GENESYS_GRANULARITY='PT5M' is not supported", "PT15M, PT30M, PT1H"),
        ),
        (
            {"GENESYS_LOOKBACK_DAYS": "0"},
            ("GENESYS_LOOKBACK_DAYS=0 must be at least 1", "GENESYS_LOOKBACK_DAYS=7"),
        ),
        (
            {"GENESYS_CHANNEL_WINDOW_DAYS": "four weeks"},
            ("GENESYS_CHANNEL_WINDOW_DAYS='four weeks' is not a whole number", "28"),
        ),
    ],
    ids=[
        "invalid_timezone",
        "start_in_future",
        "start_today",
        "start_not_iso",
        "granularity",
        "lookback_0",
        "channel_window_text",
    ],
)
def test_invalid_pipeline_settings(env: dict[str, str], says: tuple[str, ...]) -> None:
    with pytest.raises(SettingsError) as caught:
        config.read({**GOOD_ENV, **env}, today=TODAY)
    for part in says:
        assert part in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (
            "GENESYS_MAX_ATTEMPTS",
            "three",
            ("GENESYS_MAX_ATTEMPTS='three' is not a whole number", "GENESYS_MAX_ATTEMPTS=6"),
        ),
        (
            "GENESYS_REQUESTS_PER_SECOND",
            "0",
            ("GENESYS_REQUESTS_PER_SECOND=0 must be greater than 0", "GENESYS_REQUESTS_PER_SECOND=5"),
        ),
        (
            "GENESYS_FETCH_MODE",
            "fast",
            ("GENESYS_FETCH_MODE='fast' is not supported", "auto, sync, async"),
        ),
        (
            "GENESYS_MAX_QUERY_DAYS",
            "0",
            ("GENESYS_MAX_QUERY_DAYS=0 must be a whole number of at least 1", "GENESYS_MAX_QUERY_DAYS=7"),
        ),
        ("EXPORT_S3_SSE", "AES", ("EXPORT_S3_SSE='AES' is not supported", "AES256, aws:kms")),
        (
            "EXPORT_PARQUET_COMPRESSION",
            "gzip",
            ("EXPORT_PARQUET_COMPRESSION='gzip' is not supported", "snappy, zstd"),
        ),
    ],
)
def test_invalid_resource_settings(
    variable: str, value: str, says: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        build_resources(config.read())
    for part in says:
        assert part in str(caught.value)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"GENESYS_REGION": "atlantis_9"},
            ("Unknown Genesys Cloud region 'atlantis_9'", "Set GENESYS_REGION", "eu_west_1 (mypurecloud.ie)"),
        ),
        (
            {"GENESYS_API_URL": "ftp://api.example.com"},
            ("GENESYS_API_URL='ftp://api.example.com' is not an http(s) URL", "https://api.mypurecloud.com"),
        ),
    ],
    ids=["unknown_region", "api_url_not_http"],
)
def test_invalid_hosts_stop_the_load(
    env: dict[str, str], says: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checked when the code location loads, before any run (a run used to find out at its first call).
    for name in ("GENESYS_REGION", "GENESYS_API_URL", "GENESYS_LOGIN_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        config.read()
    for part in says:
        assert part in str(caught.value)


def test_code_location_refuses_to_load_with_an_invalid_timezone(tmp_path: Path) -> None:
    env = {**os.environ, "GENESYS_TIMEZONE": "Europe/Atlantis", "GENESYS_LAKE_DIR": str(tmp_path / "lake")}
    done = subprocess.run(
        [sys.executable, "-c", "import genesys_assets.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert (
        "genesys_assets.config.SettingsError: GENESYS_TIMEZONE=Europe/Atlantis is not an IANA" in done.stderr
    )
    assert "set it like GENESYS_TIMEZONE=UTC" in done.stderr
    assert not (tmp_path / "lake").exists()


# ------------------------------------------------------------------------------------------ S3


def _export_fails(pipeline: Pipeline, day: str, error: str, says: tuple[str, ...]) -> None:
    """The day's run fails in the export step with ``error``; no object for the day anywhere."""
    result = pipeline.daily(day, raise_on_error=False)
    failure = step_failure(result)
    assert (failure.step_key, failure.cls_name) == (EXPORT, error), failure.text[:2000]
    for part in says:
        assert part in failure.message, f"{part!r} not in: {failure.message}"
    assert (EXPORT, day) not in materialized(result)
    assert _objects_for(pipeline, [day]) == []


def test_missing_bucket(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_S3_BUCKET", "no-such-bucket-for-genesys")
    _export_fails(
        pipeline,
        "2026-08-26",
        "BucketNotFoundError",
        ("bucket 'no-such-bucket-for-genesys' does not exist", "create the bucket or set EXPORT_S3_BUCKET"),
    )


def test_access_denied_names_the_permission(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    read_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    }
    with restricted_s3_credentials(pipeline.s3_url, read_only) as (key_id, secret):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        result = pipeline.daily("2026-08-27", raise_on_error=False)
    failure = step_failure(result)
    assert (failure.step_key, failure.cls_name) == (EXPORT, "AccessDeniedError")
    assert "access denied" in failure.message
    assert f"grant s3:PutObject and s3:PutObjectTagging on arn:aws:s3:::{pipeline.bucket}/" in failure.message
    assert secret not in failure.message and key_id not in failure.message
    assert _objects_for(pipeline, ["2026-08-27"]) == []


def test_unknown_aws_credentials(pipeline: Pipeline) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    with restricted_s3_credentials(pipeline.s3_url, policy):  # IAM enforced; the fixture's keys are unknown
        result = pipeline.daily("2026-08-28", raise_on_error=False)
    failure = step_failure(result)
    assert (failure.step_key, failure.cls_name) == (EXPORT, "CredentialsError")
    assert "S3 rejected the credentials (InvalidAccessKeyId)" in failure.message
    assert "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in failure.message
    assert _objects_for(pipeline, ["2026-08-28"]) == []


def test_unreachable_s3_endpoint(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{unused_port()}")
    pipeline.resources = build_resources(config.read())
    _export_fails(
        pipeline,
        "2026-08-31",
        "EndpointError",
        ("cannot reach the S3 endpoint http://127.0.0.1:", "Fix: check AWS_ENDPOINT_URL"),
    )


@pytest.mark.parametrize(
    ("code", "status", "aws_message", "fix", "day"),
    [
        (
            "KMS.NotFoundException",
            400,
            "Invalid keyId alias/genesys-export",
            "does not exist in this account",
            "2026-08-04",
        ),
        ("KMS.DisabledException", 400, "key is disabled.", "is disabled or pending deletion", "2026-08-05"),
        (
            "AccessDenied",
            403,
            "not authorized to perform kms:GenerateDataKey",
            "grant kms:GenerateDataKey",
            "2026-08-06",
        ),
    ],
    ids=["kms_key_not_found", "kms_key_disabled", "kms_access_denied"],
)
def test_kms_key_refused(
    code: str,
    status: int,
    aws_message: str,
    fix: str,
    day: str,
    pipeline: Pipeline,
    canned_s3: CannedS3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canned_s3.response = s3_error(status, code, aws_message)
    monkeypatch.setenv("AWS_ENDPOINT_URL", canned_s3.url)
    monkeypatch.setenv("EXPORT_S3_SSE", "aws:kms")
    monkeypatch.setenv("EXPORT_S3_KMS_KEY_ID", "alias/genesys-export")
    pipeline.resources = build_resources(config.read())
    _export_fails(
        pipeline,
        day,
        "EncryptionError",
        ("server-side encryption with KMS was refused", "KMS key 'alias/genesys-export'", fix),
    )
    put = [headers for method, _, headers in canned_s3.requests if method == "PUT"]
    assert put and put[0].get("x-amz-server-side-encryption") == "aws:kms"
