"""The pure parts of range fetching: the aggregates query body, queue batches, too-large refusals."""

from __future__ import annotations

from datetime import date

import pytest

from genesys_assets.genesys import BadRequest, GenesysSettings
from genesys_assets.genesys.planner import chunk_days
from genesys_assets.genesys.ranges import aggregates_body, is_too_large, queue_batches

NY = "America/New_York"


def test_query_body_uses_local_midnights_timezone_groupby_and_queue_filter() -> None:
    chunk = chunk_days(date(2026, 3, 8), date(2026, 3, 8), 1, NY)[0]
    body = aggregates_body(
        chunk.window_start,
        chunk.window_end,
        timezone=NY,
        granularity="PT30M",
        metrics=["nOffered"],
        queue_ids=["a", "b", "a"],
    )
    assert body["interval"] == "2026-03-08T05:00:00.000Z/2026-03-09T04:00:00.000Z"
    assert body["timeZone"] == NY and body["granularity"] == "PT30M"
    assert body["groupBy"] == ["queueId", "mediaType", "direction"]
    assert [p["value"] for p in body["filter"]["predicates"]] == ["a", "b"]
    assert all(p["dimension"] == "queueId" and p["type"] == "dimension" for p in body["filter"]["predicates"])
    unfiltered = aggregates_body(
        chunk.window_start, chunk.window_end, timezone=NY, granularity=None, metrics=["nOffered"]
    )
    assert "filter" not in unfiltered and "granularity" not in unfiltered  # one bucket over the interval


def test_queue_ids_are_split_into_filters_of_at_most_the_predicate_limit() -> None:
    ids = [f"q{i}" for i in range(250)] + ["q3"]
    batches = queue_batches(ids, 100)
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert [q for batch in batches for q in batch] == ids[:250]  # distinct, in order
    assert queue_batches([], 100) == [[]]  # no ids: one query without a filter
    with pytest.raises(ValueError, match="max_queue_predicates"):
        GenesysSettings(client_id="id", client_secret="s", max_queue_predicates=0)


@pytest.mark.parametrize(
    ("status", "message", "too_large"),
    [
        (400, "The query interval is longer than the maximum of 7 days.", True),
        (400, "Query would return too many groups.", True),
        (400, "Results exceed the answer limit.", True),
        (400, "Unknown metric 'nFoo'.", False),
        (400, None, False),
    ],
)
def test_a_too_large_query_is_told_apart_from_other_bad_requests(
    status: int, message: str | None, too_large: bool
) -> None:
    error = BadRequest("refused", genesys_message=message, status=status)
    assert is_too_large(error) is too_large
