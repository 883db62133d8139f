"""The sandbox's behaviour knobs, over real HTTP: rate limit, outages, credentials, permissions, limits,
async jobs, token expiry, injected faults, response mutations, admin routes, the CLI, and the org's
analytics settings (service-level switches, short-abandon threshold, metrics reported without direction)."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest

from genesys_assets.sandbox import (
    MUTATIONS,
    PERMISSION_AGGREGATES,
    PERMISSION_QUEUES,
    ConfigError,
    SandboxServer,
)
from genesys_assets_tests.sandbox_fixtures import (
    AGGREGATES_PATH,
    JOBS_PATH,
    QUEUES_PATH,
    aggregates_body,
    daily_measures,
    sandbox_http,
    sandbox_token,
)

NY = "America/New_York"
DAY = date(2026, 3, 10)


def day_body(day: date = DAY, **kwargs: Any) -> dict[str, Any]:
    return aggregates_body(day, day, NY, **kwargs)


def token_request(server: SandboxServer, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/oauth/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )


def test_server_rate_limit_answers_429_with_retry_after(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(requests_per_second=2.0, burst=3)
    token = sandbox_token(server)  # uses one token of the bucket
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        answers = [http.get(QUEUES_PATH) for _ in range(6)]
        limited = [a for a in answers if a.status_code == 429]
        assert len(limited) >= 2 and answers[0].status_code == 200
        first = limited[0]
        assert int(first.headers["Retry-After"]) >= 1
        for header in ("inin-ratelimit-allowed", "inin-ratelimit-count", "inin-ratelimit-reset"):
            assert header in first.headers
        body = first.json()
        assert body["code"] == "too.many.requests" and body["status"] == 429
        assert "[120] requests within [60] seconds" in body["message"]
        time.sleep(int(first.headers["Retry-After"]))
        assert http.get(QUEUES_PATH).status_code == 200
    stats = server.stats()
    assert stats["http_429"] == stats["rate_limited"] == len(limited)


def test_outage_days_answer_503_until_lifted(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(outage_days=[DAY])
    with sandbox_http(server) as http:
        for _ in range(3):
            answer = http.post(AGGREGATES_PATH, json=aggregates_body(DAY - timedelta(days=2), DAY, NY))
            assert answer.status_code == 503 and answer.json()["code"] == "service.unavailable"
        assert http.post(JOBS_PATH, json=day_body()).status_code == 503
        assert http.post(AGGREGATES_PATH, json=day_body(DAY + timedelta(days=1))).status_code == 200
        server.update(outage_days=[])
        assert http.post(AGGREGATES_PATH, json=day_body()).status_code == 200


@pytest.mark.parametrize("status", [401, 400])
def test_wrong_credentials_are_rejected(make_sandbox: Callable[..., SandboxServer], status: int) -> None:
    server = make_sandbox(auth_error_status=status)
    for client_id, secret in ((server.client_id, "wrong-secret"), ("someone-else", server.client_secret)):
        answer = token_request(server, client_id, secret)
        assert answer.status_code == status
        assert answer.json()["error"] == "invalid_client" and answer.json()["description"]
        assert "wrong-secret" not in answer.text and server.client_secret not in answer.text
        assert answer.headers["ININ-Correlation-Id"]
    bad_grant = httpx.post(
        f"{server.url}/oauth/token",
        auth=(server.client_id, server.client_secret),
        data={"grant_type": "password"},
        timeout=10,
    )
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"
    assert server.stats()["tokens_issued"] == 0


def test_missing_permission_answers_403_naming_it(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(permissions=[PERMISSION_QUEUES])
    with sandbox_http(server) as http:
        assert http.get(QUEUES_PATH).status_code == 200
        answer = http.post(AGGREGATES_PATH, json=day_body())
    assert answer.status_code == 403
    body = answer.json()
    assert body["code"] == "missing.permissions" and body["status"] == 403
    assert PERMISSION_AGGREGATES in body["message"]
    assert body["messageParams"] == {"permissions": f"[{PERMISSION_AGGREGATES}]"}
    assert "{permissions}" in body["messageWithParams"]
    assert body["contextId"] == answer.headers["ININ-Correlation-Id"]


def test_bearer_token_errors(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        missing = http.get(QUEUES_PATH)
        unknown = http.get(QUEUES_PATH, headers={"Authorization": "Bearer not-a-token"})
    assert (missing.status_code, missing.json()["code"]) == (401, "authentication.required")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "bad.credentials")


def test_token_expiry_answers_credentials_expired(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(token_lifetime_s=1)
    answer = token_request(server, server.client_id, server.client_secret)
    assert answer.json()["expires_in"] == 1 and answer.json()["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert httpx.get(f"{server.url}{QUEUES_PATH}", headers=headers).status_code == 200
    time.sleep(1.1)
    expired = httpx.get(f"{server.url}{QUEUES_PATH}", headers=headers)
    assert (expired.status_code, expired.json()["code"]) == (401, "credentials.expired")
    with sandbox_http(server) as http:  # a fresh token works again
        assert http.get(QUEUES_PATH).status_code == 200
        server.update(expire_tokens=True)
        assert http.get(QUEUES_PATH).json()["code"] == "credentials.expired"


def test_max_query_days(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(max_query_days=7)
    with sandbox_http(server) as http:
        week = http.post(AGGREGATES_PATH, json=aggregates_body(date(2026, 3, 2), date(2026, 3, 8), NY))
        eight = http.post(AGGREGATES_PATH, json=aggregates_body(date(2026, 3, 2), date(2026, 3, 9), NY))
        server.update(max_query_days=8)
        now_ok = http.post(AGGREGATES_PATH, json=aggregates_body(date(2026, 3, 2), date(2026, 3, 9), NY))
    assert week.status_code == 200  # a week with the 23-hour DST day
    assert eight.status_code == 400 and eight.json()["code"] == "bad.request"
    assert "maximum of 7 days" in eight.json()["message"]
    assert now_ok.status_code == 200


def test_async_job_lifecycle_with_cursor_pages(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(job_polls=2, job_page_size=2)
    body = aggregates_body(date(2026, 3, 2), date(2026, 3, 8), NY)
    with sandbox_http(server) as http:
        created = http.post(JOBS_PATH, json=body)
        assert created.status_code == 202
        job_id = created.json()["jobId"]
        early = http.get(f"{JOBS_PATH}/{job_id}/results")
        assert early.status_code == 400 and "FULFILLED" in early.json()["message"]
        states = [http.get(f"{JOBS_PATH}/{job_id}").json() for _ in range(3)]
        assert [s["state"] for s in states] == ["QUEUED", "PENDING", "FULFILLED"]
        assert "completionDate" in states[-1] and "expirationDate" in states[0]
        pages, cursor = [], None
        for _ in range(50):
            page = http.get(
                f"{JOBS_PATH}/{job_id}/results", params={"cursor": cursor} if cursor else None
            ).json()
            pages.append(page)
            cursor = page.get("cursor")
            if not cursor:
                break
        assert len(pages) > 2 and all(len(p["results"]) <= 2 for p in pages)
        assert [r for p in pages for r in p["results"]] == http.post(AGGREGATES_PATH, json=body).json()[
            "results"
        ]
        bad_cursor = http.get(f"{JOBS_PATH}/{job_id}/results", params={"cursor": "bm9wZTox"})
        assert bad_cursor.status_code == 400
        assert http.delete(f"{JOBS_PATH}/{job_id}").status_code == 204
        gone = http.get(f"{JOBS_PATH}/{job_id}")
        assert (gone.status_code, gone.json()["code"]) == (404, "not.found")
        month = http.post(JOBS_PATH, json=aggregates_body(date(2026, 3, 1), date(2026, 4, 2), NY))
        assert month.status_code == 400 and "31 days" in month.json()["message"]
        small_pages = http.post(JOBS_PATH, json={**body, "pageSize": 1}).json()["jobId"]
        for _ in range(3):
            http.get(f"{JOBS_PATH}/{small_pages}")
        assert len(http.get(f"{JOBS_PATH}/{small_pages}/results").json()["results"]) == 1
        server.update(job_fail=True, job_polls=0)
        failing = http.post(JOBS_PATH, json=body).json()["jobId"]
        status = http.get(f"{JOBS_PATH}/{failing}").json()
        assert status["state"] == "FAILED" and status["errorMessage"]
    assert server.stats()["jobs_created"] == 3


def test_fault_script_serves_each_fault_once(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox()
    token = sandbox_token(server)
    server.update(
        fault_script=[
            "503",
            "500",
            "429",
            "502",
            "html200",
            "malformed",
            "truncated",
            "expired_token",
            "reset",
        ],
        retry_after_s=3,
    )
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        seen = [http.post(AGGREGATES_PATH, json=day_body()) for _ in range(8)]
        with pytest.raises(httpx.TransportError):
            http.post(AGGREGATES_PATH, json=day_body())
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        normal = http.post(AGGREGATES_PATH, json=day_body())
    assert [a.status_code for a in seen] == [503, 500, 429, 502, 200, 200, 200, 401]
    assert (
        seen[0].json()["code"] == "service.unavailable" and seen[1].json()["code"] == "internal.server.error"
    )
    assert seen[2].headers["Retry-After"] == "3"
    assert seen[3].headers["Content-Type"].startswith("text/html")
    assert seen[4].headers["Content-Type"].startswith("text/html") and b"<html" in seen[4].content
    for broken in (seen[5], seen[6]):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(broken.content)
    assert normal.content.startswith(seen[6].content)
    assert seen[7].json()["code"] == "credentials.expired"
    assert all(a.headers["ININ-Correlation-Id"] for a in [*seen, normal])
    assert normal.status_code == 200 and "results" in normal.json()
    stats = server.stats()
    assert stats["faults_total"] == 9 and stats["faults_pending"] == []


def test_token_target_and_slow_faults(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(fault_script=["token:503", "slow"], slow_seconds=0.3)
    first = token_request(server, server.client_id, server.client_secret)
    assert first.status_code == 503
    with sandbox_http(server) as http:  # the next token request succeeds
        started = time.perf_counter()
        assert http.get(QUEUES_PATH).status_code == 200
        assert time.perf_counter() - started >= 0.2


def test_random_faults_are_seeded(make_sandbox: Callable[..., SandboxServer]) -> None:
    def statuses(server: SandboxServer) -> list[int]:
        with sandbox_http(server) as http:
            return [http.get(QUEUES_PATH, params={"pageSize": 1}).status_code for _ in range(30)]

    knobs = {"fault_rates": {"503": 0.3, "429": 0.2}, "fault_seed": 5}
    first, second = statuses(make_sandbox(**knobs)), statuses(make_sandbox(**knobs))
    assert first == second
    assert set(first) == {200, 429, 503}
    assert 5 <= first.count(200) <= 25


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_mutations_bend_the_answer(make_sandbox: Callable[..., SandboxServer], mutation: str) -> None:
    server = make_sandbox()
    with sandbox_http(server) as http:
        clean = http.post(AGGREGATES_PATH, json=day_body()).json()
        server.update(mutation=mutation)
        bent = http.post(AGGREGATES_PATH, json=day_body()).json()
    assert bent != clean
    first = bent["results"][0]
    stats = first["data"][0]["metrics"][0]["stats"]
    if mutation == "negative_count":
        assert stats["count"] < 0
    elif mutation == "non_numeric":
        assert isinstance(stats.get("sum", stats.get("count")), str)
    elif mutation == "null_queue":
        assert first["group"]["queueId"] is None
    elif mutation == "duplicate_group":
        assert bent["results"][-1] == first
    elif mutation == "outside_interval":
        assert first["data"][0]["interval"] < clean["results"][0]["data"][0]["interval"]
    elif mutation == "misaligned":
        assert first["data"][0]["interval"][14:16] in ("07", "37")
    elif mutation == "missing_metric":
        assert "tHandle" not in {
            m["metric"] for r in bent["results"] for b in r["data"] for m in b["metrics"]
        }
    elif mutation == "extra_fields":
        assert "sandboxExtra" in bent and "sandboxStatExtra" in stats
    elif mutation == "partial_group":
        assert set(bent["results"][-1]["group"]) == {"mediaType"}
    elif mutation == "sl_overflow":
        sl = [
            m["stats"]
            for r in bent["results"]
            for b in r["data"]
            for m in b["metrics"]
            if m["metric"] == "oServiceLevel"
        ]
        assert any(s["numerator"] > s["denominator"] for s in sl)


def test_admin_routes(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        health = http.get("/sandbox/health").json()
        assert health["status"] == "ok" and health["queues"] == 4
        config = http.get("/sandbox/config").json()
        assert config["client_secret"] == "***" and config["timezone"] == NY
        changed = http.post("/sandbox/config", json={"max_query_days": 3, "outage_days": ["2026-05-01"]})
        assert changed.status_code == 200 and changed.json()["max_query_days"] == 3
        assert server.config.outage_days == frozenset({date(2026, 5, 1)})
        rejected = http.post("/sandbox/config", json={"no_such_knob": 1})
        assert rejected.status_code == 400 and "no_such_knob" in rejected.json()["message"]
        assert http.post("/sandbox/config", json={"fault_rates": {"418": 1}}).status_code == 400
        sandbox_token(server, http)
        stats = http.get("/sandbox/stats").json()
        assert stats["tokens_issued"] == 1 and stats["requests"]["token"] == 1
        assert http.delete("/sandbox/stats").json()["tokens_issued"] == 0
        assert http.get("/api/v2/nothing/here").status_code == 404
    with pytest.raises(ConfigError):
        server.update(mutation="bogus")


def test_queue_listing_pages_and_filters(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(queue_count=7)
    with sandbox_http(server) as http:
        first = http.get(QUEUES_PATH, params={"pageSize": 3}).json()
        assert (first["total"], first["pageCount"], len(first["entities"])) == (7, 3, 3)
        names, uri = [], f"{QUEUES_PATH}?pageSize=3&pageNumber=1"
        for _ in range(5):
            page = http.get(uri).json()
            names += [q["name"] for q in page["entities"]]
            if "nextUri" not in page:
                break
            uri = page["nextUri"]
        assert names == sorted(names, key=str.lower) and len(names) == 7
        one = server.truth.queues()[2]
        by_id = http.get(QUEUES_PATH, params={"id": one.id}).json()["entities"]
        assert [q["id"] for q in by_id] == [one.id]
        by_name = http.get(QUEUES_PATH, params={"name": one.name.split()[0] + "*"}).json()["entities"]
        assert one.id in {q["id"] for q in by_name}
        assert http.get(QUEUES_PATH, params={"pageSize": 501}).status_code == 400
    voice = by_id[0]["mediaSettings"]["call"]["serviceLevel"]
    assert voice == {
        "percentage": one.service_levels["voice"][0],
        "durationMs": one.service_levels["voice"][1],
    }


def test_unsupported_media_type(sandbox: SandboxServer) -> None:
    with sandbox_http(sandbox) as http:
        answer = http.post(AGGREGATES_PATH, content=b"interval=x", headers={"Content-Type": "text/plain"})
    assert (answer.status_code, answer.json()["code"]) == (415, "unsupported.media.type")


@pytest.mark.e2e  # starts the sandbox CLI as a child process
def test_cli_prints_url_credentials_and_sample_query() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "genesys_assets.sandbox", "--port", "0", "--queues", "3", "--days", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for _ in range(40):
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Admin:"):
                break
        text = "".join(lines)
        url = text.split("listening on ")[1].split()[0]
        assert "GENESYS_CLIENT_ID=sandbox-client" in text and "GENESYS_CLIENT_SECRET=sandbox-secret" in text
        assert "curl" in text and "/api/v2/analytics/conversations/aggregates/query" in text
        assert httpx.get(f"{url}/sandbox/health", timeout=5).json()["queues"] == 3
        basic = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
        token = httpx.post(
            f"{url}/oauth/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
            timeout=5,
        )
        assert token.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_stopped_sandbox_is_unreachable(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox()
    with httpx.Client(base_url=server.url, timeout=5) as http:
        assert http.get("/sandbox/health").status_code == 200  # keep-alive connection now open
        server.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/sandbox/health")


Bucket = tuple[tuple[tuple[str, str], ...], str]


def by_bucket(answer: dict[str, Any]) -> dict[Bucket, dict[str, dict[str, Any]]]:
    """(group items, interval) -> metric -> stats."""
    return {
        (tuple(sorted(r["group"].items())), b["interval"]): {m["metric"]: m["stats"] for m in b["metrics"]}
        for r in answer.get("results", [])
        for b in r["data"]
    }


def count(stats: dict[str, dict[str, Any]], metric: str) -> int:
    return int(stats[metric]["count"]) if metric in stats else 0


@pytest.mark.parametrize(
    ("flow_outs", "short_abandons", "abandons"),
    [
        (False, True, True),
        (True, True, True),
        (False, False, True),
        (False, True, False),
        (False, False, False),
        (True, False, False),
    ],
)
def test_service_level_switches_change_the_denominator_as_defined(
    make_sandbox: Callable[..., SandboxServer], flow_outs: bool, short_abandons: bool, abandons: bool
) -> None:
    server = make_sandbox(queue_count=10, conversations_per_queue_day=80)
    with sandbox_http(server) as http:
        before = by_bucket(http.post(AGGREGATES_PATH, json=day_body()).json())
        server.update(
            sl_include_flow_outs=flow_outs,
            sl_include_short_abandons=short_abandons,
            sl_include_abandons=abandons,
        )
        answer = http.post(AGGREGATES_PATH, json=day_body()).json()
    after = by_bucket(answer)
    assert after.keys() == before.keys()
    seen = {"tShortAbandon": 0, "tFlowOut": 0}
    for key, stats in after.items():
        answered, abandoned = count(stats, "tAnswered"), count(stats, "tAbandon")
        short, flowed = count(stats, "tShortAbandon"), count(stats, "tFlowOut")
        seen["tShortAbandon"] += short
        seen["tFlowOut"] += flowed
        denominator = answered
        if abandons:
            denominator += abandoned - (0 if short_abandons else short)
        if flow_outs:
            denominator += flowed
        if denominator:
            level = stats["oServiceLevel"]
            assert level["denominator"] == denominator, key
            assert level["numerator"] == answered - count(stats, "nOverSla") <= denominator
        else:
            assert "oServiceLevel" not in stats, key
        others = {m: s for m, s in stats.items() if m != "oServiceLevel"}
        assert others == {m: s for m, s in before[key].items() if m != "oServiceLevel"}  # nothing else moves
    assert seen["tShortAbandon"] and seen["tFlowOut"]  # the day has both, so every switch is exercised
    for (queue_id, media, direction, day), measures in daily_measures(answer["results"], NY).items():
        assert measures == server.truth.daily_totals(queue_id, media, day, direction)


def test_short_abandon_threshold_decides_the_short_abandons(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(queue_count=10, conversations_per_queue_day=80)
    shorts = {}
    with sandbox_http(server) as http:
        for threshold in (0, 10, 30):
            server.update(short_abandon_threshold_s=threshold)
            answer = http.post(AGGREGATES_PATH, json=day_body()).json()
            buckets = by_bucket(answer)
            shorts[threshold] = sum(count(stats, "tShortAbandon") for stats in buckets.values())
            for stats in buckets.values():
                if "tShortAbandon" in stats:
                    short, abandon = stats["tShortAbandon"], stats["tAbandon"]
                    assert short["count"] <= abandon["count"] and short["sum"] <= abandon["sum"]
                    assert short["min"] == abandon["min"] and short["max"] < threshold * 1000
            for (queue_id, media, direction, day), measures in daily_measures(answer["results"], NY).items():
                assert measures == server.truth.daily_totals(queue_id, media, day, direction)
    assert shorts[0] == 0 < shorts[10] < shorts[30]


def test_partial_group_metrics_come_without_direction(make_sandbox: Callable[..., SandboxServer]) -> None:
    partial = ("nConnected", "tAlert", "tShortAbandon", "oServiceLevel")
    server = make_sandbox(queue_count=10, conversations_per_queue_day=80)
    by_queue_media = day_body(group_by=["queueId", "mediaType"])
    with sandbox_http(server) as http:
        plain = http.post(AGGREGATES_PATH, json=day_body()).json()
        plain_by_queue_media = http.post(AGGREGATES_PATH, json=by_queue_media).json()
        server.update(partial_group_metrics=list(partial))
        answer = http.post(AGGREGATES_PATH, json=day_body()).json()
        assert http.post(AGGREGATES_PATH, json=by_queue_media).json() == plain_by_queue_media
    without = [r for r in answer["results"] if "direction" not in r["group"]]
    detailed = [r for r in answer["results"] if "direction" in r["group"]]
    assert without and all(set(r["group"]) == {"queueId", "mediaType"} for r in without)
    assert {m["metric"] for r in without for b in r["data"] for m in b["metrics"]} == set(partial)
    assert not {m["metric"] for r in detailed for b in r["data"] for m in b["metrics"]} & set(partial)
    # The detailed groups keep every other metric as they were.
    kept = {
        key: {m: s for m, s in stats.items() if m not in partial}
        for key, stats in by_bucket({"results": detailed}).items()
    }
    assert kept == {
        key: {m: s for m, s in stats.items() if m not in partial} for key, stats in by_bucket(plain).items()
    }
    # Groups without direction plus the detailed groups hold the conversations' totals per queue x media type.
    measured = daily_measures(answer["results"], NY, group_keys=("queueId", "mediaType"))
    assert measured
    for (queue_id, media, day), measures in measured.items():
        assert measures == server.truth.daily_totals_by_media(queue_id, media, day)
    # The detailed groups alone miss them: a test that reads only those would see zeros.
    detailed_only = daily_measures(detailed, NY)
    assert all(m["connected"] == m["alert_count"] == 0 for m in detailed_only.values())
    # An async job's pages hold the same groups, those without direction included.
    server.update(job_polls=0, job_page_size=7)
    with sandbox_http(server) as http:
        job_id = http.post(JOBS_PATH, json=day_body()).json()["jobId"]
        assert http.get(f"{JOBS_PATH}/{job_id}").json()["state"] == "FULFILLED"
        paged, cursor = [], None
        for _ in range(50):
            params = {"cursor": cursor} if cursor else None
            page = http.get(f"{JOBS_PATH}/{job_id}/results", params=params).json()
            paged += page["results"]
            cursor = page.get("cursor")
            if not cursor:
                break
    assert paged == answer["results"]


def test_analytics_settings_are_validated(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigError, match="nBogus"):
        sandbox.update(partial_group_metrics=["nBogus"])
    with pytest.raises(ConfigError, match="short_abandon_threshold_s"):
        sandbox.update(short_abandon_threshold_s=-1)
    assert sandbox.config.partial_group_metrics == () and sandbox.config.short_abandon_threshold_s == 10.0
