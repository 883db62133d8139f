"""The Genesys client's pure parts: range planner (chunk counts, DST-safe bounds), regions, settings,
queue parsing, Retry-After parsing, rate-limit keys."""

from __future__ import annotations

import itertools
import tempfile
import time
from datetime import date, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from genesys_assets import config
from genesys_assets.genesys import (
    REGIONS,
    GenesysSettings,
    UnknownRegion,
    normalise_percentage,
    parse_queue,
    plan_fetch,
    resolve_hosts,
)
from genesys_assets.genesys.http import parse_retry_after
from genesys_assets.genesys.planner import chunk_days, job_calls
from genesys_assets.genesys.ratelimit import bucket_key
from genesys_assets.genesys.records import normalise_percentage_expr

NY = "America/New_York"


def plan(first: date, last: date, tz: str = NY, **kwargs: object):
    options: dict[str, object] = {"max_sync_query_days": 7, "max_job_days": 31, "job_page_size": 25}
    options.update(kwargs)
    return plan_fetch(first, last, tz, **options)  # type: ignore[arg-type]


def test_year_is_fetched_with_twelve_async_jobs_instead_of_53_sync_queries() -> None:
    year = plan(date(2026, 1, 1), date(2026, 12, 31))
    assert year.sync_calls == 53  # ceil(365 / 7)
    assert year.async_calls == 12 * job_calls(None, 25) == 48  # 12 jobs x (submit + 2 polls + 1 page)
    assert year.mode == "async"
    assert len(year.chunks) == 12
    assert sum(chunk.days for chunk in year.chunks) == 365
    assert all(chunk.days <= 31 for chunk in year.chunks)

    forced = plan(date(2026, 1, 1), date(2026, 12, 31), mode="sync")
    assert forced.mode == "sync" and len(forced.chunks) == 53 and forced.estimated_calls == 53


@pytest.mark.parametrize(
    ("days", "mode", "chunks"),
    [
        (1, "sync", 1),
        (7, "sync", 1),
        (8, "sync", 2),
        (21, "sync", 3),
        (22, "sync", 4),
        (29, "async", 1),
        (31, "async", 1),
        (62, "async", 2),
    ],
)
def test_short_ranges_stay_synchronous_and_ties_go_to_sync(days: int, mode: str, chunks: int) -> None:
    first = date(2026, 5, 1)
    result = plan(first, first + timedelta(days=days - 1))
    assert (result.mode, len(result.chunks)) == (mode, chunks)
    assert result.estimated_calls == min(result.sync_calls, result.async_calls)


def test_many_queues_make_async_pages_count() -> None:
    # 200 queues x 2 media types = 400 groups = 16 pages of 25 per job: sync queries win for a month.
    month = plan(date(2026, 1, 1), date(2026, 1, 31), expected_groups=400)
    assert month.async_calls == 1 + 2 + 16
    assert month.mode == "sync" and len(month.chunks) == 5


def test_chunk_bounds_are_local_midnights_and_hold_across_dst() -> None:
    tz = ZoneInfo(NY)
    chunks = chunk_days(date(2026, 3, 1), date(2026, 3, 14), 7, NY)  # DST starts 2026-03-08 in New York
    assert [(c.first_day, c.last_day) for c in chunks] == [
        (date(2026, 3, 1), date(2026, 3, 7)),
        (date(2026, 3, 8), date(2026, 3, 14)),
    ]
    assert chunks[0].window_end == chunks[1].window_start  # half-open, shared boundary
    for chunk in chunks:
        for instant, day in (
            (chunk.window_start, chunk.first_day),
            (chunk.window_end, chunk.last_day + timedelta(1)),
        ):
            local = instant.astimezone(tz)
            assert (local.date(), local.hour, local.minute) == (day, 0, 0)
    assert chunks[0].window_end - chunks[0].window_start == timedelta(hours=7 * 24)
    assert chunks[1].window_end - chunks[1].window_start == timedelta(hours=7 * 24 - 1)

    autumn = chunk_days(date(2026, 10, 25), date(2026, 11, 7), 7, NY)  # DST ends 2026-11-01
    assert autumn[0].window_end - autumn[0].window_start == timedelta(hours=7 * 24)
    assert autumn[1].window_end - autumn[1].window_start == timedelta(hours=7 * 24 + 1)
    assert autumn[1].window_start.astimezone(tz).hour == 0 == autumn[1].window_end.astimezone(tz).hour

    year = plan(date(2026, 1, 1), date(2026, 12, 31)).chunks
    assert all(a.window_end == b.window_start for a, b in itertools.pairwise(year))
    assert all(c.window_start.astimezone(tz).time() == datetime.min.time() for c in year)


def test_plan_rejects_reversed_ranges() -> None:
    with pytest.raises(ValueError, match="before first_day"):
        plan(date(2026, 2, 1), date(2026, 1, 1))


def test_regions_by_name_domain_url_and_overrides() -> None:
    assert len(REGIONS) == 18
    assert resolve_hosts("eu_west_1").api_url == "https://api.mypurecloud.ie"
    assert resolve_hosts("ap-northeast-1").login_url == "https://login.mypurecloud.jp"
    assert resolve_hosts("usw2.pure.cloud").api_url == "https://api.usw2.pure.cloud"
    assert resolve_hosts("https://api.mypurecloud.de/").login_url == "https://login.mypurecloud.de"
    assert resolve_hosts("").api_url == "https://api.mypurecloud.com"
    hosts = resolve_hosts("mypurecloud.com", api_url="http://127.0.0.1:8765")
    assert hosts.login_url == "http://127.0.0.1:8765"  # same origin when there is no api. prefix
    proxied = resolve_hosts(
        "mypurecloud.com", api_url="https://api.example.org", login_url="https://sso.example.org/"
    )
    assert (proxied.api_url, proxied.login_url) == ("https://api.example.org", "https://sso.example.org")
    assert resolve_hosts("x", api_url="https://api.example.org").login_url == "https://login.example.org"


def test_unknown_region_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownRegion) as caught:
        resolve_hosts("narnia")
    message = str(caught.value)
    assert "Unknown Genesys Cloud region 'narnia'" in message
    assert "us_east_1 (mypurecloud.com)" in message and "eu_central_2 (euc2.pure.cloud)" in message
    assert "GENESYS_REGION" in message and "GENESYS_API_URL" in message
    with pytest.raises(UnknownRegion):
        GenesysSettings(client_id="id", client_secret="secret", region="us east 1")
    with pytest.raises(UnknownRegion, match="GENESYS_API_URL"):
        GenesysSettings(client_id="id", client_secret="secret", api_url="ftp://example.org")


def test_settings_validate_and_mask_the_secret() -> None:
    settings = GenesysSettings(client_id="my-id", client_secret="Sup3r-Secret-Value")
    assert "Sup3r-Secret-Value" not in repr(settings) and "Sup3r-Secret-Value" not in str(settings)
    assert "client_secret='***'" in repr(settings) and "my-id" in repr(settings)
    assert (settings.requests_per_second, settings.burst, settings.max_attempts) == (5.0, 10, 6)
    with pytest.raises(ValueError, match="GENESYS_CLIENT_SECRET"):
        GenesysSettings(client_id="id", client_secret=" ")
    with pytest.raises(ValueError, match="burst"):
        GenesysSettings(client_id="id", client_secret="s", burst=0)
    with pytest.raises(ValueError, match="requests_per_second"):
        GenesysSettings(client_id="id", client_secret="s", requests_per_second=0)


def test_rate_limit_directory_defaults(tmp_path) -> None:
    # The client reads no environment: GENESYS_RATE_LIMIT_DIR reaches it through `config` and the resource.
    settings = GenesysSettings(client_id="id", client_secret="s")
    assert settings.rate_limit_directory() == Path(tempfile.gettempdir()) / "genesys_assets"
    explicit = GenesysSettings(client_id="id", client_secret="s", rate_limit_dir=str(tmp_path))
    assert explicit.rate_limit_directory() == tmp_path
    read = config.read({"GENESYS_RATE_LIMIT_DIR": str(tmp_path / "shared")}, today=date(2026, 11, 23))
    assert read.genesys["rate_limit_dir"] == str(tmp_path / "shared")


def test_bucket_key_depends_on_host_and_client_never_on_the_secret() -> None:
    key = bucket_key("login.mypurecloud.com", "client-1")
    assert key == bucket_key("LOGIN.mypurecloud.com", "client-1")
    assert key != bucket_key("login.mypurecloud.ie", "client-1")
    assert key != bucket_key("login.mypurecloud.com", "client-2")
    assert "client-1" not in key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.8, 0.8),
        (80, 0.8),
        (80.0, 0.8),
        (1, 1.0),
        (0, 0.0),
        (100, 1.0),
        (150, None),
        (-1, None),
        ("80", None),
        (None, None),
    ],
)
def test_service_level_percentage_is_a_fraction(raw: object, expected: float | None) -> None:
    assert normalise_percentage(raw) == expected


def test_queue_entity_maps_call_to_voice_and_normalises_service_level() -> None:
    queue = parse_queue(
        {
            "id": "q1",
            "name": "Billing",
            "division": {"id": "d1", "name": "Home"},
            "dateCreated": "2025-02-03T04:05:06.789Z",
            "mediaSettings": {
                "chat": {"serviceLevel": {"percentage": 0.7, "durationMs": 60000}},
                "call": {"serviceLevel": {"percentage": 80, "durationMs": 20000}},
                "email": {"serviceLevel": {"percentage": 0.8, "durationMs": 86400000}},
                "message": {},
            },
        }
    )
    # Every block is kept with its own target, in analytics order, whatever channels the queue serves.
    assert list(queue.service_levels) == ["voice", "chat", "email", "message"]
    assert queue.service_levels["voice"] == (pytest.approx(0.8), 20000)
    assert queue.service_levels["chat"] == (pytest.approx(0.7), 60000)
    assert queue.service_levels["email"] == (pytest.approx(0.8), 86400000)
    assert queue.service_levels["message"] == (None, None)
    assert (queue.division_id, queue.division_name) == ("d1", "Home")
    assert queue.date_created is not None and queue.date_created.utcoffset() == timedelta(0)
    bare = parse_queue({"id": "q2"})
    assert (bare.service_levels, bare.date_created) == ({}, None)


def test_retry_after_then_ratelimit_reset_then_nothing() -> None:
    assert parse_retry_after({"Retry-After": "3", "inin-ratelimit-reset": "40"}) == 3.0
    assert parse_retry_after({"inin-ratelimit-reset": "40"}) == 40.0
    assert parse_retry_after({}) is None
    http_date = formatdate(time.time() + 5, usegmt=True)
    assert 3.0 <= (parse_retry_after({"Retry-After": http_date}) or 0) <= 5.5
    assert parse_retry_after({"Retry-After": "soon", "inin-ratelimit-reset": "7"}) == 7.0


def test_percentage_rule_is_the_same_for_values_and_columns() -> None:
    values = [0.0, 0.8, 1.0, 80.0, 100.0, 150.0, -1.0, float("nan"), None]
    column = pl.select(normalise_percentage_expr(pl.Series(values, dtype=pl.Float64))).to_series().to_list()
    assert column == [normalise_percentage(value) for value in values]
    assert column == [0.0, 0.8, 1.0, 0.8, 1.0, None, None, None, None]
