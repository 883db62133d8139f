"""The sandbox's answers have the real API's shape: the official SDK's models read them without loss.

Each raw JSON answer is deserialised with `PureCloudPlatformClientV2.ApiClient().deserialize` into the model
the SDK uses for that endpoint, serialised back with ``sanitize_for_serialization`` and compared with the
raw JSON: a field the model does not know (misspelled, wrong nesting) or a value it cannot hold (an enum
value outside the SDK's list, a wrong type) would make them differ. Importing the SDK takes seconds, so
it is imported once, here only.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
import PureCloudPlatformClientV2 as sdk
import pytest

from genesys_assets.genesys.records import MEDIA_TYPES
from genesys_assets.sandbox import SandboxConfig, SandboxServer
from genesys_assets.sandbox.query import CONVERSATION_METRICS
from genesys_assets.schema import AGGREGATE_METRICS
from genesys_assets_tests.sandbox_fixtures import (
    AGGREGATES_PATH,
    DEFAULT_SANDBOX_CONFIG,
    JOBS_PATH,
    QUEUES_PATH,
    aggregates_body,
    sandbox_http,
)

NY = "America/New_York"
_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class _SdkResponse:
    """The two things `ApiClient.deserialize` reads from an HTTP response."""

    def __init__(self, response: httpx.Response) -> None:
        self.data = response.text
        self._headers = response.headers

    def getheader(self, name: str) -> str | None:
        return self._headers.get(name)


def normalized(value: Any) -> Any:
    """JSON value with ISO instants parsed (the SDK writes them back as +00:00 without milliseconds)."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, str) and _INSTANT.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def round_trip(response: httpx.Response, model: str) -> Any:
    """Deserialise into the SDK model, check nothing was lost or changed, return the model object."""
    client = sdk.ApiClient()
    obj = client.deserialize(_SdkResponse(response), model)
    assert type(obj).__name__ == model
    assert normalized(client.sanitize_for_serialization(obj)) == normalized(response.json())
    return obj


def sdk_enum(model: str, attribute: str) -> list[str]:
    """The values the SDK model's setter accepts for ``attribute`` (its ``allowed_values`` list)."""
    source = inspect.getsource(getattr(getattr(sdk, model), attribute).fset)
    found = re.search(r"allowed_values = (\[.*?\])", source)
    assert found, f"{model}.{attribute} has no enum in the SDK"
    return list(ast.literal_eval(found.group(1)))


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxServer]:
    config: SandboxConfig = DEFAULT_SANDBOX_CONFIG.replace(queue_count=6, job_polls=1, job_page_size=2)
    with SandboxServer(config) as server:
        yield server


def test_token_answer(org: SandboxServer) -> None:
    answer = httpx.post(
        f"{org.url}/oauth/token",
        auth=(org.client_id, org.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (
        body["token_type"] == "bearer"
        and body["expires_in"] == 86400
        and isinstance(body["access_token"], str)
    )


def test_queue_listing_pages_are_queue_entity_listings(org: SandboxServer) -> None:
    seen: list[str] = []
    with sandbox_http(org) as http:
        uri = f"{QUEUES_PATH}?pageSize=4&pageNumber=1"
        for _ in range(5):
            response = http.get(uri)
            listing = round_trip(response, "QueueEntityListing")
            for queue in listing.entities:
                assert queue.media_settings.call.service_level.percentage is not None
                assert queue.division.id and queue.date_created.tzinfo is not None
            seen += [q.id for q in listing.entities]
            if not listing.next_uri:
                break
            uri = listing.next_uri
    assert listing.page_count == 2 and listing.total == 6
    assert sorted(seen) == sorted(org.truth.queue_ids())


def test_aggregates_answer_is_a_conversation_aggregate_query_response(org: SandboxServer) -> None:
    # A working week: outbound dialing (and so every outbound metric) happens on weekdays only.
    with sandbox_http(org) as http:
        response = http.post(AGGREGATES_PATH, json=aggregates_body(date(2026, 3, 9), date(2026, 3, 13), NY))
    assert response.status_code == 200 and response.headers["ININ-Correlation-Id"]
    answer = round_trip(response, "ConversationAggregateQueryResponse")
    metrics = {m.metric for r in answer.results for d in r.data for m in d.metrics}
    assert metrics == set(AGGREGATE_METRICS)
    assert "cobrowse" in {r.group["mediaType"] for r in answer.results}
    sl = next(
        m.stats for r in answer.results for d in r.data for m in d.metrics if m.metric == "oServiceLevel"
    )
    assert 0 < sl.target < 1 and sl.denominator >= sl.numerator
    assert all(d.interval.endswith(".000Z") for r in answer.results for d in r.data)


def test_float_stats_round_trip(org: SandboxServer) -> None:
    org.update(float_stats=True)
    try:
        with sandbox_http(org) as http:
            response = http.post(
                AGGREGATES_PATH, json=aggregates_body(date(2026, 3, 9), date(2026, 3, 9), NY)
            )
    finally:
        org.update(float_stats=False)
    assert '.0,"count"' in response.text or ".0}" in response.text
    round_trip(response, "ConversationAggregateQueryResponse")


def test_async_job_answers_match_sdk_models(org: SandboxServer) -> None:
    body = aggregates_body(date(2026, 3, 2), date(2026, 3, 4), NY)
    with sandbox_http(org) as http:
        created = http.post(JOBS_PATH, json=body)
        job_id = round_trip(created, "AsyncQueryResponse").job_id
        states = []
        for _ in range(5):
            status = round_trip(http.get(f"{JOBS_PATH}/{job_id}"), "AsyncQueryStatus")
            states.append(status.state)
            if status.state == "FULFILLED":
                break
        assert states == ["QUEUED", "FULFILLED"] and status.completion_date >= status.submission_date
        cursor, pages = None, 0
        for _ in range(50):
            page = round_trip(
                http.get(f"{JOBS_PATH}/{job_id}/results", params={"cursor": cursor} if cursor else None),
                "ConversationAsyncAggregateQueryResponse",
            )
            pages += 1
            assert len(page.results) <= 2
            cursor = page.cursor
            if not cursor:
                break
    assert pages > 1


@pytest.mark.parametrize(
    ("knobs", "request_kind", "status", "code"),
    [
        ({}, "bad_granularity", 400, "bad.request"),
        ({}, "no_token", 401, "authentication.required"),
        ({"permissions": ["routing:queue:view"]}, "query", 403, "missing.permissions"),
        ({"fault_script": ["429"]}, "query", 429, "too.many.requests"),
        ({"fault_script": ["503"]}, "query", 503, "service.unavailable"),
        ({}, "unknown_job", 404, "not.found"),
    ],
)
def test_error_answers_are_error_bodies(
    org: SandboxServer, knobs: dict[str, Any], request_kind: str, status: int, code: str
) -> None:
    body = aggregates_body(date(2026, 3, 2), date(2026, 3, 2), NY)
    with sandbox_http(org) as http:
        org.update(**knobs)
        try:
            if request_kind == "bad_granularity":
                response = http.post(AGGREGATES_PATH, json={**body, "granularity": "PT7X"})
            elif request_kind == "no_token":
                response = httpx.get(f"{org.url}{QUEUES_PATH}")
            elif request_kind == "unknown_job":
                response = http.get(f"{JOBS_PATH}/00000000-0000-4000-8000-000000000000")
            else:
                response = http.post(AGGREGATES_PATH, json=body)
        finally:
            org.update(permissions=list(SandboxConfig().permissions), fault_script=[])
    error = round_trip(response, "ErrorBody")
    assert (response.status_code, error.status, error.code) == (status, status, code)
    assert error.context_id == response.headers["ININ-Correlation-Id"] and error.message


def test_every_queue_carries_all_five_media_settings_blocks(org: SandboxServer) -> None:
    with sandbox_http(org) as http:
        listing = round_trip(http.get(QUEUES_PATH, params={"pageSize": 100}), "QueueEntityListing")
    blocks = list(sdk.QueueMediaSettings().swagger_types)
    assert blocks == ["call", "callback", "chat", "email", "message"]
    served_fewer = 0
    for queue in listing.entities:
        truth = org.truth.queue(queue.id)
        for block, media in zip(blocks, MEDIA_TYPES, strict=True):
            level = getattr(queue.media_settings, block).service_level
            assert level is not None and level.percentage is not None and level.duration_ms > 0
            if media not in truth.media_types and media == "email":
                assert (level.percentage, level.duration_ms) == (0.8, 86_400_000)  # Genesys's default
        served_fewer += len(truth.media_types) < len(blocks)
    assert served_fewer == len(listing.entities)  # traffic on a subset of channels, settings for all five


def test_the_metric_catalogue_is_the_sdks(org: SandboxServer) -> None:
    assert sorted(CONVERSATION_METRICS) == sorted(sdk_enum("ConversationAggregationView", "target"))
    assert set(AGGREGATE_METRICS) <= set(CONVERSATION_METRICS)
    body = aggregates_body(date(2026, 3, 10), date(2026, 3, 10), NY, metrics=CONVERSATION_METRICS)
    with sandbox_http(org) as http:
        every = http.post(AGGREGATES_PATH, json=body)
        observations = {
            metric: http.post(AGGREGATES_PATH, json={**body, "metrics": ["nOffered", metric]})
            for metric in ("oInteracting", "oWaiting")
        }
    assert every.status_code == 200
    round_trip(every, "ConversationAggregateQueryResponse")
    for metric, refused in observations.items():  # observation metrics belong to another query
        assert refused.status_code == 400 and metric in refused.json()["message"]


def test_direction_is_a_conversation_dimension_and_groups_read_back(org: SandboxServer) -> None:
    dimensions = sdk_enum("ConversationAggregateQueryPredicate", "dimension")
    assert {"direction", "originatingDirection", "queueId", "mediaType"} <= set(dimensions)
    with sandbox_http(org) as http:
        answers = {
            by: http.post(
                AGGREGATES_PATH,
                json=aggregates_body(date(2026, 6, 9), date(2026, 6, 9), NY, group_by=["queueId", by]),
            )
            for by in ("direction", "originatingDirection")
        }
    for by, response in answers.items():
        answer = round_trip(response, "ConversationAggregateQueryResponse")
        assert {r.group[by] for r in answer.results} == {"inbound", "outbound"}


def test_answers_with_groups_without_direction_round_trip(org: SandboxServer) -> None:
    org.update(partial_group_metrics=["nConnected", "tAlert", "oServiceLevel"], sl_include_flow_outs=True)
    try:
        with sandbox_http(org) as http:
            response = http.post(
                AGGREGATES_PATH, json=aggregates_body(date(2026, 3, 10), date(2026, 3, 10), NY)
            )
    finally:
        org.update(partial_group_metrics=[], sl_include_flow_outs=False)
    answer = round_trip(response, "ConversationAggregateQueryResponse")
    partial = [r for r in answer.results if "direction" not in r.group]
    assert partial and all(set(r.group) == {"queueId", "mediaType"} for r in partial)
    assert {m.metric for r in partial for d in r.data for m in d.metrics} == {
        "nConnected",
        "tAlert",
        "oServiceLevel",
    }
