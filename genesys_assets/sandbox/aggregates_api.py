"""The sandbox's conversation-aggregates API: the synchronous query route and the aggregates jobs routes.

`AggregatesApi` is a base of `SandboxServer`: it checks a query's length, predicates and the outage days
(400, 503), answers from the org's conversations (`aggregate.compute`), applies the configured answer
mutation, and keeps the jobs a client submitted (state per poll, results in cursor pages). `query` answers
in-process, without transport or auth.
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from genesys_assets.sandbox.aggregate import (
    AggregateTables,
    aggregate,
    apply_mutation,
    compute,
    local_days_touched,
    response_body,
)
from genesys_assets.sandbox.config import SandboxConfig
from genesys_assets.sandbox.errors import ApiError, bad_request, not_found
from genesys_assets.sandbox.generator import SandboxOrg
from genesys_assets.sandbox.http_handler import JSON, Reply, json_reply, parse_json
from genesys_assets.sandbox.query import AggregateQuery, parse_query


@dataclass
class Job:
    """An aggregates job; its summaries are computed once, when first fetched, from the org it was submitted
    to, and each results page renders only its own groups."""

    id: str
    query: AggregateQuery
    org: SandboxOrg
    submitted: datetime
    expires: datetime
    fail: bool
    polls: int = 0
    completed: datetime | None = None
    tables: AggregateTables | None = None
    group_ids: list[int] | None = None


class AggregatesApi:
    """The aggregates query and jobs routes of `SandboxServer`, which this class is a base of.

    It reads the server's config, org and lock, and keeps the submitted jobs and their counter in the
    server's state.
    """

    _config: SandboxConfig
    _org: SandboxOrg
    _lock: threading.RLock
    _jobs: dict[str, Job]
    _counters: Counter[str]

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer an aggregates query in-process (same code as the HTTP route, without transport or auth)."""
        return self._aggregates_answer(parse_query(body))

    def _check_outage(self, query: AggregateQuery) -> None:
        outage = self._config.outage_days
        if not outage:
            return
        first, last = local_days_touched(query.start_ms, query.end_ms, self._config.timezone)
        hit = sorted(d for d in outage if first <= d <= last)
        if hit:
            raise ApiError(503, "service.unavailable")

    def _aggregates_answer(self, query: AggregateQuery, org: SandboxOrg | None = None) -> dict[str, Any]:
        cfg = self._config
        results = aggregate(org or self._org, query, float_stats=cfg.float_stats)
        return apply_mutation(response_body(results), cfg.mutation, query)

    def _aggregates_bytes(self, tables: AggregateTables, groups: list[int] | None = None) -> bytes:
        """The answer as JSON bytes: streamed group by group, or through the dict path for a mutation."""
        mutation = self._config.mutation
        if mutation is None:
            return tables.render_json(groups)
        return orjson.dumps(apply_mutation(response_body(tables.render(groups)), mutation, tables.query))

    def _check_predicates(self, query: AggregateQuery) -> None:
        limit = self._config.max_predicates
        if query.predicate_count > limit:
            raise bad_request(
                f"The filter has {query.predicate_count} predicates, more than the maximum of {limit}. "
                "Use fewer predicates per query.",
                field_name="filter",
            )

    def _accepted(self, query: AggregateQuery, max_days: int, what: str) -> AggregateQuery:
        """The query, once its interval fits `max_days` (an hour of slack for DST), its queue filter the
        predicate limit, and no outage day is in it; otherwise the 400 or 503 Genesys would answer."""
        if query.days_long > max_days + 1 / 24:
            raise bad_request(
                f"The interval is longer than the maximum of {max_days} days for {what}",
                field_name="interval",
            )
        self._check_predicates(query)
        self._check_outage(query)
        return query

    def handle_query(self, body: bytes) -> Reply:
        cfg = self._config
        query = self._accepted(
            parse_query(parse_json(body)),
            cfg.max_query_days,
            "a synchronous aggregates query. Split it into shorter intervals or submit an aggregates job.",
        )
        tables = compute(self._org, query, float_stats=cfg.float_stats)
        entries = sum(rows.cell.size for _, _, rows in tables.tables)
        if cfg.max_answer_entries is not None and entries > cfg.max_answer_entries:
            raise bad_request(
                f"The query would return {entries} metric results, more than the maximum of "
                f"{cfg.max_answer_entries}. Use a shorter interval, a coarser granularity or fewer queues.",
                field_name="interval",
            )
        return Reply(200, self._aggregates_bytes(tables))

    def handle_job_create(self, body: bytes) -> Reply:
        cfg = self._config
        query = self._accepted(
            parse_query(parse_json(body), is_job=True),
            cfg.max_job_days,
            "an aggregates job. Split it into shorter jobs.",
        )
        now = datetime.now(UTC)
        job = Job(
            id=str(uuid.uuid4()),
            query=query,
            org=self._org,
            submitted=now,
            expires=now + timedelta(seconds=cfg.job_ttl_s),
            fail=cfg.job_fail,
        )
        with self._lock:
            self._jobs[job.id] = job
            self._counters["jobs_created"] += 1
        return json_reply(202, {"jobId": job.id})

    def _job(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"Aggregates job {job_id} was not found.")
        return job

    def _job_state(self, job: Job, *, poll: bool) -> str:
        now = datetime.now(UTC)
        with self._lock:
            if now >= job.expires:
                return "EXPIRED"
            if poll and job.completed is None:
                job.polls += 1
                if job.polls > self._config.job_polls:
                    job.completed = now
            if job.completed is None:
                return "QUEUED" if job.polls <= 1 else "PENDING"
            return "FAILED" if job.fail else "FULFILLED"

    def handle_job_status(self, job_id: str) -> Reply:
        job = self._job(job_id)
        self._check_outage(job.query)
        state = self._job_state(job, poll=True)
        status: dict[str, Any] = {
            "state": state,
            "submissionDate": _iso(job.submitted),
            "expirationDate": _iso(job.expires),
        }
        if job.completed is not None:
            status["completionDate"] = _iso(job.completed)
        if state == "FAILED":
            status["errorMessage"] = "The aggregates job failed while processing the query; submit it again."
        return json_reply(200, status)

    def handle_job_results(self, job_id: str, params: dict[str, list[str]]) -> Reply:
        job = self._job(job_id)
        self._check_outage(job.query)
        state = self._job_state(job, poll=False)
        if state == "EXPIRED":
            raise not_found(f"Aggregates job {job_id} has expired; its results are gone. Submit it again.")
        if state != "FULFILLED":
            raise bad_request(
                f"Results of aggregates job {job_id} are not available: its state is {state}. "
                "Poll the job until its state is FULFILLED."
            )
        if job.tables is None or job.group_ids is None:
            tables = compute(job.org, job.query, float_stats=self._config.float_stats)
            job.group_ids = tables.group_ids()
            job.tables = tables
        page_size = min(job.query.page_size or self._config.job_page_size, self._config.job_page_size)
        offset = 0
        cursor = (params.get("cursor") or [None])[0]
        if cursor:
            offset = _decode_cursor(cursor, job_id)
        body = self._aggregates_bytes(job.tables, job.group_ids[offset : offset + page_size])
        if offset + page_size < len(job.group_ids):
            cursor_field = b'"cursor":' + orjson.dumps(_encode_cursor(job_id, offset + page_size))
            body = body[:-1] + (b"," if body != b"{}" else b"") + cursor_field + b"}"
        return Reply(200, body)

    def handle_job_delete(self, job_id: str) -> Reply:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            raise not_found(f"Aggregates job {job_id} was not found.")
        return Reply(204, b"", JSON)


def _encode_cursor(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, job_id: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, _, offset = text.rpartition(":")
        if owner == job_id and int(offset) >= 0:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_request(f"Invalid cursor [{cursor}] for aggregates job {job_id}.", field_name="cursor")


def _iso(instant: datetime) -> str:
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
