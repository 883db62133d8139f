"""Fault soak: two weeks of daily partitions and their week rollups through a sandbox org that misbehaves.

The faulty org answers about 10 % of API requests with 429 (Retry-After 1 s), 10 % with 503, 5 % with a
connection reset half-way through the body and 5 % slowly, close to the client's 2 s timeout (some finish,
some time out and are retried). Tokens live 4 s, so they are renewed during runs (one query waits out four
429s in a row first), and one token is refused as expired in the middle of a run. The fortnight runs as two
seven-day range runs and once more as one fourteen-day run, always with one-day queries, so the client sends
many separate queries.

Every S3 object and every lake file must equal, byte for byte, those of a fault-free pipeline on a sandbox
with the same seed (object tags aside: they carry the run id; raw partitions aside from their extraction
time). The retries the client reports must account for every fault the sandbox served.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from genesys_assets import config, localtime
from genesys_assets.defs.resources import GenesysResource, build_resources
from genesys_assets.genesys.client import GenesysClient
from genesys_assets.genesys.settings import GenesysSettings
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.pipeline_fixtures import Pipeline
from genesys_assets_tests.reliability_helpers import compare_lakes, lake_files, log_messages, run_metadata

FIRST = date(2026, 10, 5)  # a Monday
DAYS = [*localtime.week_days(FIRST), *localtime.week_days(FIRST + timedelta(days=7))]
WEEKS = (DAYS[0].isoformat(), DAYS[7].isoformat())
FAULT_RATES = {"429": 0.10, "503": 0.10, "reset": 0.05, "slow": 0.05}
TIMEOUT_S = 2.0
SLOW_SECONDS = 1.8  # the sandbox delays 0.8x..1.2x this: 1.44..2.16 s against a 2 s timeout
TOKEN_LIFETIME_S = 4  # renewed 0.4 s before it runs out, several times per run


def _tags_without_run_id(pipeline: Pipeline) -> dict[str, dict[str, str]]:
    tags = {}
    for key in pipeline.s3_objects():
        object_tags = pipeline.object_tags(key)
        object_tags.pop("run_id")
        tags[key] = object_tags
    return tags


@pytest.mark.timeout(300)
def test_two_weeks_through_faults_equal_a_fault_free_run(
    make_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reference: the same org without faults, the fortnight as one range run, the weeks as another.
    clean = make_pipeline()
    clean.directory()
    clean.daily((DAYS[0].isoformat(), DAYS[-1].isoformat()))
    clean.weekly(WEEKS)
    expected_objects = clean.s3_objects()
    expected_tags = _tags_without_run_id(clean)
    expected_lake = lake_files(clean.lake_dir)
    assert len(expected_objects) == 14 + 2

    # Built second: the export bucket is read from the environment at run time, so it is this pipeline's.
    faulty = make_pipeline(
        fault_rates=FAULT_RATES, slow_seconds=SLOW_SECONDS, token_lifetime_s=TOKEN_LIFETIME_S, retry_after_s=1
    )
    monkeypatch.setenv("GENESYS_MAX_ATTEMPTS", "12")
    monkeypatch.setenv("GENESYS_MAX_RETRY_SECONDS", "90")
    monkeypatch.setenv("GENESYS_TIMEOUT_S", str(TIMEOUT_S))
    faulty.resources = build_resources(config.read())
    # One-day queries (and no aggregates jobs), so each range run sends one query per day.
    base = faulty.resources["genesys"]
    fields = {name: getattr(base, name) for name in GenesysResource.model_fields}
    faulty.resources["genesys"] = GenesysResource(**{**fields, "max_sync_query_days": 1, "max_job_days": 1})
    sandbox = faulty.sandbox

    started = time.monotonic()
    faulty.directory()
    sandbox.reset_stats()
    # Every fault kind at least once, whatever the random draws: the first query meets a reset mid-body, a
    # slow answer, four 429s (over 4 s of waiting: its token must be renewed between attempts) and a token
    # refused as expired; then the random faults go on.
    sandbox.update(fault_script=("reset", "slow", "429", "429", "429", "429", "expired_token"))
    # Week one, week two, then the whole fortnight again (a rerun must change nothing).
    ranges = [(DAYS[0], DAYS[6]), (DAYS[7], DAYS[13]), (DAYS[0], DAYS[13])]
    runs = [faulty.daily((first.isoformat(), last.isoformat())) for first, last in ranges]
    stats = sandbox.stats()
    runs_meta = [run_metadata(run, "raw_queue_aggregates") for run in runs]
    weekly = faulty.weekly(WEEKS)
    wall_s = time.monotonic() - started
    assert all(run.success for run in [*runs, weekly])

    # Byte for byte: the exported objects, their tags apart from the run id, and every lake file.
    actual_objects = faulty.s3_objects()
    assert actual_objects.keys() == expected_objects.keys()
    assert [k for k in expected_objects if actual_objects[k] != expected_objects[k]] == []
    assert _tags_without_run_id(faulty) == expected_tags
    assert compare_lakes(lake_files(faulty.lake_dir), expected_lake) == []

    # The faults happened and the client's own counters account for each of them.
    injected = stats["faults_injected"]
    retried = sum(int(meta["retries"]) for meta in runs_meta)
    reported_429 = sum(int(meta["http_429"]) for meta in runs_meta)
    queries = stats["requests"].get("aggregates_query", 0)
    # The client logs "fetching a new one" for each 401 it answers with a token refresh.
    refreshed = sum(
        "fetching a new one" in line for run in runs for line in log_messages(faulty.instance, run.run_id)
    )
    renewed = stats["tokens_issued"] - len(runs) - refreshed  # renewed shortly before expiry
    print(
        f"\nsoak: {queries} aggregates requests, faults injected {injected}, client retries {retried} "
        f"(429s seen {reported_429}), tokens refreshed after a 401: {refreshed}, renewed before expiry: "
        f"{renewed}, HTTP statuses {stats['status']}, wall time {wall_s:.1f} s for {len(runs) + 2} runs"
    )
    assert injected.get("429", 0) >= 1 and injected.get("503", 0) >= 1 and injected.get("reset", 0) >= 1
    assert injected.get("expired_token") == 1 and refreshed >= 1
    assert reported_429 == injected["429"]
    hard_faults = injected["429"] + injected["503"] + injected["reset"]
    # Each 429, 503 and reset costs one retry; a slow answer costs one only when it outlasted the timeout.
    assert hard_faults <= retried <= hard_faults + injected.get("slow", 0)
    # One query per day and run, one more per retry and one more after each token refresh.
    assert queries == sum((last - first).days + 1 for first, last in ranges) + retried + refreshed
    # Tokens: one per run, one per refresh after a 401, and at least one renewal during a run.
    assert renewed >= 1


def test_a_retry_after_a_long_backoff_sends_a_renewed_token(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    # The token lives 1 s and is renewed 0.1 s before it runs out; the first query waits out a 429 with
    # Retry-After 1 s, so the token it started with has expired by the time the retry goes out.
    server = make_sandbox(token_lifetime_s=1.0, retry_after_s=1, fault_script=("429",))
    settings = GenesysSettings(
        client_id=server.client_id,
        client_secret=server.client_secret,
        api_url=server.url,
        login_url=server.url,
        requests_per_second=100,
        burst=20,
        rate_limit_dir=str(tmp_path / "ratelimit"),
        max_attempts=3,
    )
    with GenesysClient(settings) as client:
        answer = client.fetch_aggregates(DAYS[0], DAYS[0], timezone=server.config.timezone)
        calls = client.stats
    assert answer.chunks[0].results
    stats = server.stats()
    assert stats["status"].get("401", 0) == 0  # the retry carried a renewed token, never the expired one
    assert stats["tokens_issued"] == 2
    assert (calls.http_429, calls.retries, calls.api_calls, calls.token_calls) == (1, 1, 2, 2)
