"""Aggregation of generated conversations into a `ConversationAggregateQueryResponse`.

Each metric is counted in the bucket of its own event instant (see `generator`), grouped by the
requested dimensions and summarised with numpy (sort + reduceat), never one Python object per event.
Groups, buckets and metrics without activity are omitted, as the real API does; an answer without any
activity has no ``results`` key.

`apply_mutation` bends a correct answer in one documented way for contract tests of the pipeline.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from genesys_assets.sandbox.generator import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DIRECTIONS,
    MEDIA_TYPES,
    OUTCOME_ABANDONED,
    OUTCOME_ANSWERED,
    OUTCOME_FLOW_OUT,
    DayData,
    SandboxOrg,
    iso_ms,
)
from genesys_assets.sandbox.query import SUPPORTED_METRICS, AggregateQuery, Target

_M = len(MEDIA_TYPES)
_D = len(DIRECTIONS)


def _inbound(selector: Callable[[DayData], np.ndarray]) -> Callable[[DayData], np.ndarray]:
    return lambda d: selector(d) & (d.direction == DIRECTION_INBOUND)


# metric -> (kind, event-time column, value column or None, selector over the conversations)
# kind "t": count/sum/min/max; "n": count; "o": service level (derived). Queue metrics (offered, answered,
# abandoned, flow-outs, waits, service level) belong to inbound conversations; the work metrics to both
# directions; nOutbound and tDialing to outbound calls.
_Selector = Callable[[DayData], np.ndarray]
METRIC_SOURCES: Final[dict[str, tuple[str, str, str | None, _Selector]]] = {
    "nOffered": ("n", "offered", None, _inbound(lambda d: np.ones(len(d), dtype=bool))),
    "tAnswered": ("t", "wait_end", "wait", _inbound(lambda d: d.outcome == OUTCOME_ANSWERED)),
    "tAbandon": ("t", "wait_end", "wait", _inbound(lambda d: d.outcome == OUTCOME_ABANDONED)),
    "tFlowOut": ("t", "wait_end", "wait", _inbound(lambda d: d.outcome == OUTCOME_FLOW_OUT)),
    "tWait": ("t", "wait_end", "wait", _inbound(lambda d: np.ones(len(d), dtype=bool))),
    "tTalkComplete": ("t", "talk_end", "talk", lambda d: d.outcome == OUTCOME_ANSWERED),
    "tHeldComplete": ("t", "hold_end", "hold", lambda d: (d.outcome == OUTCOME_ANSWERED) & (d.hold > 0)),
    "tAcw": ("t", "acw_end", "acw", lambda d: d.outcome == OUTCOME_ANSWERED),
    "tHandle": ("t", "acw_end", "handle", lambda d: d.outcome == OUTCOME_ANSWERED),
    "nOverSla": ("n", "wait_end", None, _inbound(lambda d: d.over_sla)),
    "nOutbound": ("n", "offered", None, lambda d: d.direction == DIRECTION_OUTBOUND),
    "tDialing": ("t", "wait_end", "dialing", lambda d: d.direction == DIRECTION_OUTBOUND),
}


@dataclass(frozen=True)
class _Rows:
    """Summaries of one metric per non-empty cell (cell = group * buckets + bucket)."""

    cell: np.ndarray
    count: np.ndarray
    total: np.ndarray
    low: np.ndarray
    high: np.ndarray
    target: np.ndarray


_gc_lock = threading.Lock()
_gc_users = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large answer (it holds no cycles).

    Building hundreds of thousands of small dicts otherwise triggers collections that scan them all
    again and again; pausing halves the rendering time. Nested and concurrent users share one pause.
    """
    global _gc_users, _gc_was_enabled
    with _gc_lock:
        if _gc_users == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_was_enabled:
                gc.enable()


def local_days_touched(start_ms: int, end_ms: int, timezone: str) -> tuple[date, date]:
    """First and last local date of the half-open window [start_ms, end_ms)."""
    tz = ZoneInfo(timezone)
    first = datetime.fromtimestamp(start_ms / 1000, tz=tz).date()
    last = datetime.fromtimestamp((end_ms - 1) / 1000, tz=tz).date()
    return first, last


def group_mask(org: SandboxOrg, query: AggregateQuery) -> np.ndarray:
    """bool [queues, media types, directions]: the groups the query's filter selects."""
    mask = np.zeros((len(org.queues), _M, _D), dtype=bool)
    for queue in org.queues:
        for j, media in enumerate(MEDIA_TYPES):
            for k, direction in enumerate(DIRECTIONS):
                mask[queue.index, j, k] = query.selects(Target(queue.id, media, queue.division_id, direction))
    return mask


@dataclass(frozen=True)
class Grouping:
    """Which of queue, media type and direction a query groups by; a group id is
    ``(queue * media_groups + media) * direction_groups + direction`` over the dimensions grouped by."""

    by_queue: bool
    by_media: bool
    by_direction: bool
    queues: int

    @staticmethod
    def of(query: AggregateQuery, queues: int) -> Grouping:
        dims = set(query.group_by)
        by_direction = bool(dims & {"direction", "originatingDirection"})
        return Grouping("queueId" in dims, "mediaType" in dims, by_direction, queues)

    @property
    def media_groups(self) -> int:
        return _M if self.by_media else 1

    @property
    def direction_groups(self) -> int:
        return _D if self.by_direction else 1

    @property
    def count(self) -> int:
        return (self.queues if self.by_queue else 1) * self.media_groups * self.direction_groups

    def ids(self, queue: np.ndarray, media: np.ndarray, direction: np.ndarray) -> np.ndarray:
        q = queue.astype(np.int64) if self.by_queue else np.zeros_like(queue, dtype=np.int64)
        m = media.astype(np.int64) if self.by_media else np.zeros_like(media, dtype=np.int64)
        d = direction.astype(np.int64) if self.by_direction else np.zeros_like(direction, dtype=np.int64)
        return (q * self.media_groups + m) * self.direction_groups + d

    def group_dict(self, org: SandboxOrg, group: int, query: AggregateQuery) -> dict[str, str]:
        rest, d = divmod(group, self.direction_groups)
        q, m = divmod(rest, self.media_groups)
        out: dict[str, str] = {}
        if self.by_queue:
            out["queueId"] = org.queues[q].id
        if self.by_media:
            out["mediaType"] = MEDIA_TYPES[m]
        for name in ("direction", "originatingDirection"):
            if name in query.group_by:
                out[name] = DIRECTIONS[d]
        return out


@dataclass(frozen=True)
class AggregateTables:
    """The numpy summaries of one query, before nesting into JSON-ready dicts.

    Kept by async jobs so each results page renders only its own groups (a month of 200 queues is
    millions of metric entries; as dicts that would be gigabytes).
    """

    org: SandboxOrg
    query: AggregateQuery
    tables: tuple[tuple[int, str, _Rows], ...]
    n_buckets: int
    grouping: Grouping
    float_stats: bool

    def group_ids(self) -> list[int]:
        """Ids of the non-empty groups, in answer order."""
        if not self.tables:
            return []
        cells = np.concatenate([rows.cell for _, _, rows in self.tables])
        return np.unique(cells // self.n_buckets).tolist()

    def render(self, groups: list[int] | None = None) -> list[dict[str, Any]]:
        """``results`` for all groups, or for a consecutive run of ``group_ids()``."""
        tables = list(self.tables)
        if groups is not None:
            if not groups:
                return []
            lo, hi = groups[0] * self.n_buckets, (groups[-1] + 1) * self.n_buckets
            tables = [(k, kind, _slice_rows(rows, lo, hi)) for k, kind, rows in tables]
        with _gc_paused():
            return _render(self.org, self.query, tables, self.n_buckets, self.grouping, self.float_stats)

    def render_json(self, groups: list[int] | None = None, *, chunk_groups: int = 16) -> bytes:
        """The ConversationAggregateQueryResponse as JSON bytes (orjson), rendered a few groups at a time.

        Same content as ``response_body(self.render(groups))``, without holding every metric entry as a
        dict at once: a week of 200 queues is a few hundred thousand entries, a month over a million.
        """
        ids = self.group_ids() if groups is None else groups
        parts = [
            orjson.dumps(self.render(ids[i : i + chunk_groups]))[1:-1]
            for i in range(0, len(ids), chunk_groups)
        ]
        parts = [p for p in parts if p]
        if not parts:
            return b"{}"
        return b'{"results":[' + b",".join(parts) + b"]}"


def _slice_rows(rows: _Rows, lo: int, hi: int) -> _Rows:
    a, b = np.searchsorted(rows.cell, [lo, hi])
    return _Rows(
        rows.cell[a:b], rows.count[a:b], rows.total[a:b], rows.low[a:b], rows.high[a:b], rows.target[a:b]
    )


def aggregate(org: SandboxOrg, query: AggregateQuery, *, float_stats: bool = False) -> list[dict[str, Any]]:
    """The ``results`` list of the query over the org's conversations (empty when nothing matched)."""
    return compute(org, query, float_stats=float_stats).render()


def compute(org: SandboxOrg, query: AggregateQuery, *, float_stats: bool = False) -> AggregateTables:
    """Summaries per metric and non-empty cell (group x bucket) of the query over the org's conversations."""
    grouping = Grouping.of(query, len(org.queues))
    n_buckets = len(query.edges) - 1
    empty = AggregateTables(org, query, (), n_buckets, grouping, float_stats)
    if not org.queues:
        return empty
    first, last = local_days_touched(query.start_ms, query.end_ms, org.timezone)
    # Conversations offered the day before can have events inside the window.
    data = org.days(first - timedelta(days=1), last)
    if len(data) == 0:
        return empty
    selected = group_mask(org, query)
    edges = query.edges
    gid_all = grouping.ids(data.queue, data.media, data.direction)
    in_filter = selected[data.queue, data.media, data.direction]
    group_target = _group_targets(org, selected, grouping)

    def cells_of(metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        _, time_col, value_col, selector = METRIC_SOURCES[metric]
        times = getattr(data, time_col)
        mask = in_filter & selector(data) & (times >= query.start_ms) & (times < query.end_ms)
        bucket = np.searchsorted(edges, times[mask], side="right") - 1
        cells = gid_all[mask] * n_buckets + bucket
        values = getattr(data, value_col)[mask] if value_col else None
        return cells, values

    tables: list[tuple[int, str, _Rows]] = []
    for k, metric in enumerate(query.metrics):
        if metric == "oServiceLevel":
            rows = _service_level(cells_of("tAnswered")[0], cells_of("nOverSla")[0], cells_of("tAbandon")[0])
            rows = _Rows(
                rows.cell, rows.count, rows.total, rows.low, rows.high, group_target[rows.cell // n_buckets]
            )
            tables.append((k, "o", rows))
        elif metric in METRIC_SOURCES:
            kind = METRIC_SOURCES[metric][0]
            cells, values = cells_of(metric)
            tables.append((k, kind, _summarise(cells, values)))
    return AggregateTables(
        org, query, tuple(t for t in tables if t[2].cell.size), n_buckets, grouping, float_stats
    )


def _group_targets(org: SandboxOrg, selected: np.ndarray, grouping: Grouping) -> np.ndarray:
    """Service-level target (fraction) of each group: the queue's own for the channel, or the mean over the
    channels a roll-up covers."""
    q_idx, m_idx, d_idx = np.meshgrid(np.arange(len(org.queues)), np.arange(_M), np.arange(_D), indexing="ij")
    gid = grouping.ids(q_idx, m_idx, d_idx).ravel()
    weight = (selected & org.has_media[:, :, None]).astype(float)
    targets = np.broadcast_to(org.sl_target[:, :, None], weight.shape)
    total = np.bincount(gid, weights=(targets * weight).ravel(), minlength=grouping.count)
    n = np.bincount(gid, weights=weight.ravel(), minlength=grouping.count)
    return np.divide(total, n, out=np.zeros(grouping.count), where=n > 0)


def _summarise(cells: np.ndarray, values: np.ndarray | None) -> _Rows:
    order = np.argsort(cells, kind="stable")
    sorted_cells = cells[order]
    uniq, starts = np.unique(sorted_cells, return_index=True)
    counts = np.diff(np.append(starts, sorted_cells.size)).astype(np.int64)
    if values is None or uniq.size == 0:
        zeros = np.zeros(uniq.size, dtype=np.int64)
        return _Rows(uniq, counts, zeros, zeros, zeros, np.zeros(uniq.size))
    v = values[order].astype(np.int64)
    return _Rows(
        uniq,
        counts,
        np.add.reduceat(v, starts),
        np.minimum.reduceat(v, starts),
        np.maximum.reduceat(v, starts),
        np.zeros(uniq.size),
    )


def _service_level(answered: np.ndarray, over: np.ndarray, abandoned: np.ndarray) -> _Rows:
    """oServiceLevel per cell: numerator = answered - over SLA, denominator = answered + abandoned."""
    uniq = np.unique(np.concatenate([answered, abandoned]))
    n = uniq.size

    def per_cell(cells: np.ndarray) -> np.ndarray:
        return np.bincount(np.searchsorted(uniq, cells), minlength=n).astype(np.int64)

    ans, abn = per_cell(answered), per_cell(abandoned)
    over_n = per_cell(over) if over.size else np.zeros(n, dtype=np.int64)
    numerator = ans - over_n
    denominator = ans + abn
    # `count` carries the numerator and `total` the denominator; low/high are unused.
    return _Rows(uniq, numerator, denominator, denominator, denominator, np.zeros(n))


def _render(
    org: SandboxOrg,
    query: AggregateQuery,
    tables: list[tuple[int, str, _Rows]],
    n_buckets: int,
    grouping: Grouping,
    float_stats: bool,
) -> list[dict[str, Any]]:
    """Nest the per-metric rows into results[group].data[bucket].metrics[] (metrics in requested order).

    Metric entries are built per metric with comprehensions, then put in (cell, metric) order and sliced
    into buckets and groups, which keeps the Python work to a few hundred nanoseconds per entry.
    """
    tables = [t for t in tables if t[2].cell.size]
    if not tables:
        return []

    def values(a: np.ndarray) -> list[Any]:
        return a.astype(np.float64).tolist() if float_stats else a.tolist()

    entries: list[dict[str, Any]] = []
    for k, kind, rows in tables:
        name = query.metrics[k]
        if kind == "t":
            entries.extend(
                {"metric": name, "stats": {"max": hi, "min": lo, "count": c, "sum": s}}
                for hi, lo, c, s in zip(
                    values(rows.high), values(rows.low), rows.count.tolist(), values(rows.total), strict=True
                )
            )
        elif kind == "n":
            entries.extend({"metric": name, "stats": {"count": c}} for c in rows.count.tolist())
        else:
            ratio = (rows.count / rows.total).tolist()
            entries.extend(
                {"metric": name, "stats": {"ratio": r, "numerator": num, "denominator": den, "target": tgt}}
                for r, num, den, tgt in zip(
                    ratio, values(rows.count), values(rows.total), rows.target.tolist(), strict=True
                )
            )
    cell = np.concatenate([t[2].cell for t in tables])
    metric_idx = np.concatenate([np.full(t[2].cell.size, t[0], dtype=np.int64) for t in tables])
    order = np.lexsort((metric_idx, cell))
    ordered = [entries[i] for i in order.tolist()]
    cells = cell[order]

    bucket_starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    bucket_cells = cells[bucket_starts]
    bucket_ends = np.append(bucket_starts[1:], cells.size)
    bucket_idx = bucket_cells % n_buckets
    edges = query.edges.tolist()
    text = {b: f"{iso_ms(edges[b])}/{iso_ms(edges[b + 1])}" for b in np.unique(bucket_idx).tolist()}
    data = [
        {"interval": text[b], "metrics": ordered[s:e]}
        for b, s, e in zip(bucket_idx.tolist(), bucket_starts.tolist(), bucket_ends.tolist(), strict=True)
    ]

    groups = bucket_cells // n_buckets
    group_starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    group_ends = np.append(group_starts[1:], groups.size)
    return [
        {"group": grouping.group_dict(org, g, query), "data": data[s:e]}
        for g, s, e in zip(
            groups[group_starts].tolist(), group_starts.tolist(), group_ends.tolist(), strict=True
        )
    ]


def response_body(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A ConversationAggregateQueryResponse: no ``results`` key when nothing matched."""
    return {"results": results} if results else {}


def apply_mutation(body: dict[str, Any], mutation: str | None, query: AggregateQuery) -> dict[str, Any]:
    """Bend a correct answer in one documented way (see config.MUTATIONS). Returns a new dict."""
    if mutation is None or not body.get("results"):
        return body
    body = copy.deepcopy(body)
    results: list[dict[str, Any]] = body["results"]
    first = results[0]
    first_bucket = first["data"][0]
    if mutation == "negative_count":
        stats = first_bucket["metrics"][0]["stats"]
        key = "count" if "count" in stats else "numerator"
        stats[key] = -abs(stats[key]) - 1
    elif mutation == "non_numeric":
        stats = first_bucket["metrics"][0]["stats"]
        key = "sum" if "sum" in stats else ("count" if "count" in stats else "numerator")
        stats[key] = "12O4"
    elif mutation == "null_queue":
        first["group"]["queueId"] = None
    elif mutation == "duplicate_group":
        results.append(copy.deepcopy(first))
    elif mutation == "outside_interval":
        start_text, end_text = first_bucket["interval"].split("/")
        length = _parse_ms(end_text) - _parse_ms(start_text)
        start = query.start_ms - 86_400_000
        first["data"].insert(
            0,
            {
                "interval": f"{iso_ms(start)}/{iso_ms(start + length)}",
                "metrics": copy.deepcopy(first_bucket["metrics"]),
            },
        )
    elif mutation == "misaligned":
        start_text, end_text = first_bucket["interval"].split("/")
        shift = 7 * 60_000
        first_bucket["interval"] = (
            f"{iso_ms(_parse_ms(start_text) + shift)}/{iso_ms(_parse_ms(end_text) + shift)}"
        )
    elif mutation == "missing_metric":
        for result in results:
            for bucket in result["data"]:
                bucket["metrics"] = [m for m in bucket["metrics"] if m["metric"] != "tHandle"]
            result["data"] = [b for b in result["data"] if b["metrics"]]
        body["results"] = [r for r in results if r["data"]]
    elif mutation == "extra_fields":
        body["sandboxExtra"] = {"note": "unknown field"}
        for result in results:
            result["sandboxGroupExtra"] = 1
            for bucket in result["data"]:
                bucket["sandboxBucketExtra"] = True
                for metric in bucket["metrics"]:
                    metric["sandboxMetricExtra"] = "x"
                    metric["stats"]["sandboxStatExtra"] = 0
    elif mutation == "partial_group":
        media = first["group"].get("mediaType", "voice")
        results.append({"group": {"mediaType": media}, "data": copy.deepcopy(first["data"])})
    elif mutation == "sl_overflow":
        for result in results:
            for bucket in result["data"]:
                for metric in bucket["metrics"]:
                    if metric["metric"] == "oServiceLevel":
                        stats = metric["stats"]
                        stats["numerator"] = stats["denominator"] + 1
                        stats["ratio"] = stats["numerator"] / stats["denominator"]
                        return body
    return body


def _parse_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


__all__ = [
    "METRIC_SOURCES",
    "SUPPORTED_METRICS",
    "AggregateTables",
    "aggregate",
    "apply_mutation",
    "compute",
    "group_mask",
    "local_days_touched",
    "response_body",
]
