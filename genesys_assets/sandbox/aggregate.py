"""Aggregation of generated conversations into a `ConversationAggregateQueryResponse`.

Each metric is counted in the bucket of its own event instant (see `generator`), grouped by the
requested dimensions and summarised with numpy (sort + reduceat), never one Python object per event.
Groups, buckets and metrics without activity are omitted, as the real API does; an answer without any
activity has no ``results`` key.

The org's analytics settings (config) apply when answering: the short-abandon threshold decides
``tShortAbandon``, the service-level switches the ``oServiceLevel`` denominator (a bucket whose denominator
is 0 has no ``oServiceLevel`` entry), and ``partial_group_metrics`` moves those metrics, when the query
groups by direction, into groups without the direction key (queue and media type only, when grouped by
them). Such a group holds only those metrics, and the detailed groups never do.

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

from genesys_assets.sandbox.config import SandboxConfig
from genesys_assets.sandbox.generator import (
    ANALYTICS_MEDIA_TYPES,
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DIRECTIONS,
    MAX_NOT_RESPONDING,
    MEDIA_COBROWSE,
    OUTCOME_ABANDONED,
    OUTCOME_ANSWERED,
    OUTCOME_FLOW_OUT,
    OUTCOME_SESSION,
    TRANSFER_BLIND,
    TRANSFER_CONSULT,
    TRANSFER_NONE,
    DayData,
    SandboxOrg,
)
from genesys_assets.sandbox.instants import iso_ms
from genesys_assets.sandbox.query import KNOWN_METRICS, AggregateQuery, Target
from genesys_assets.sandbox.queues import alert_timeout_ms

_M = len(ANALYTICS_MEDIA_TYPES)
_D = len(DIRECTIONS)

# One kind of event of a metric: (instants, values or None, which rows have it), all one per row.
_Events = tuple[np.ndarray, np.ndarray | None, np.ndarray]
_Source = Callable[[DayData, SandboxConfig], list[_Events]]


def _queued(d: DayData) -> np.ndarray:
    """Inbound conversations that waited in the queue (co-browse sessions never do)."""
    return (d.direction == DIRECTION_INBOUND) & (d.outcome <= OUTCOME_FLOW_OUT)


def _answered(d: DayData) -> np.ndarray:
    """Conversations an agent worked: inbound answered or outbound connected."""
    return d.outcome == OUTCOME_ANSWERED


def _event(time_col: str, value_col: str | None, selector: Callable[[DayData], np.ndarray]) -> _Source:
    """A metric with one event per selected row, at ``time_col``, of value ``value_col``."""

    def source(d: DayData, cfg: SandboxConfig) -> list[_Events]:
        return [(getattr(d, time_col), getattr(d, value_col) if value_col else None, selector(d))]

    return source


def _short_abandons(d: DayData, cfg: SandboxConfig) -> list[_Events]:
    short = d.wait < cfg.short_abandon_threshold_s * 1000
    return [(d.wait_end, d.wait, _queued(d) & (d.outcome == OUTCOME_ABANDONED) & short)]


def _not_responding(d: DayData, cfg: SandboxConfig) -> list[_Events]:
    timeout = alert_timeout_ms(d.media)
    return [(d.nr_end[:, j], timeout, _queued(d) & (d.not_responding > j)) for j in range(MAX_NOT_RESPONDING)]


def _alerts(d: DayData, cfg: SandboxConfig) -> list[_Events]:
    answered_ring = (d.wait_end, d.ring, _queued(d) & (d.outcome == OUTCOME_ANSWERED))
    return [*_not_responding(d, cfg), answered_ring]


# metric -> (kind, its events). kind "t": count/sum/min/max; "n": count; "o": service level (derived from
# the answered, over-SLA, abandoned, short-abandoned and flow-out events). Queue metrics (offered, answered,
# abandoned, flow-outs, waits, alerts, service level) belong to inbound conversations that waited in queue;
# the work metrics to both directions; nOutbound*, tDialing to outbound attempts; co-browse sessions carry
# nOffered, nConnected and nCobrowseSessions only. See `generator` for when each event happens.
METRIC_SOURCES: Final[dict[str, tuple[str, _Source]]] = {
    "nOffered": ("n", _event("offered", None, lambda d: d.direction == DIRECTION_INBOUND)),
    "tAnswered": ("t", _event("wait_end", "wait", lambda d: _queued(d) & _answered(d))),
    "tAbandon": ("t", _event("wait_end", "wait", lambda d: _queued(d) & (d.outcome == OUTCOME_ABANDONED))),
    "tShortAbandon": ("t", _short_abandons),
    "tFlowOut": ("t", _event("wait_end", "wait", lambda d: _queued(d) & (d.outcome == OUTCOME_FLOW_OUT))),
    "tWait": ("t", _event("wait_end", "wait", _queued)),
    "tTalkComplete": ("t", _event("talk_end", "talk", _answered)),
    "tHeldComplete": ("t", _event("hold_end", "hold", lambda d: _answered(d) & (d.hold > 0))),
    "tAcw": ("t", _event("acw_end", "acw", _answered)),
    "tHandle": ("t", _event("acw_end", "handle", _answered)),
    "nOverSla": ("n", _event("wait_end", None, lambda d: _queued(d) & d.over_sla)),
    "nTransferred": ("n", _event("talk_end", None, lambda d: _answered(d) & (d.transfer != TRANSFER_NONE))),
    "nBlindTransferred": (
        "n",
        _event("talk_end", None, lambda d: _answered(d) & (d.transfer == TRANSFER_BLIND)),
    ),
    "nConsultTransferred": (
        "n",
        _event("talk_end", None, lambda d: _answered(d) & (d.transfer == TRANSFER_CONSULT)),
    ),
    "tAlert": ("t", _alerts),
    "tNotResponding": ("t", _not_responding),
    "nConnected": ("n", _event("wait_end", None, lambda d: _answered(d) | (d.outcome == OUTCOME_SESSION))),
    "nCobrowseSessions": ("n", _event("offered", None, lambda d: d.media == MEDIA_COBROWSE)),
    "nOutbound": ("n", _event("offered", None, lambda d: (d.direction == DIRECTION_OUTBOUND) & _answered(d))),
    "nOutboundAttempted": ("n", _event("offered", None, lambda d: d.direction == DIRECTION_OUTBOUND)),
    "nOutboundConnected": (
        "n",
        _event("wait_end", None, lambda d: (d.direction == DIRECTION_OUTBOUND) & _answered(d)),
    ),
    "nOutboundAbandoned": (
        "n",
        _event(
            "wait_end", None, lambda d: (d.direction == DIRECTION_OUTBOUND) & (d.outcome == OUTCOME_ABANDONED)
        ),
    ),
    "tDialing": (
        "t",
        _event("wait_end", "dialing", lambda d: (d.direction == DIRECTION_OUTBOUND) & _answered(d)),
    ),
}


# Metrics the sandbox computes: those with events, and the service level derived from them. The rest of the
# catalogue is accepted and never has activity, as a metric without events is omitted by the real API.
SUPPORTED_METRICS: Final[tuple[str, ...]] = (*METRIC_SOURCES, "oServiceLevel")
assert KNOWN_METRICS.issuperset(SUPPORTED_METRICS)


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
    """bool [queues, analytics media types, directions]: the groups the query's filter selects."""
    mask = np.zeros((len(org.queues), _M, _D), dtype=bool)
    for queue in org.queues:
        for j, media in enumerate(ANALYTICS_MEDIA_TYPES):
            for k, direction in enumerate(DIRECTIONS):
                mask[queue.index, j, k] = query.selects(Target(queue.id, media, queue.division_id, direction))
    return mask


@dataclass(frozen=True)
class Grouping:
    """Which of queue, media type and direction a query groups by; a group id is
    ``(queue * media_groups + media) * direction_groups + direction`` over the dimensions grouped by.

    With ``partial`` (the query groups by direction and the org reports some metrics without it), ids from
    `count` on are the groups without direction: ``count + queue * media_groups + media``.
    """

    by_queue: bool
    by_media: bool
    by_direction: bool
    queues: int
    partial: bool = False

    @staticmethod
    def of(query: AggregateQuery, queues: int, partial_metrics: tuple[str, ...] = ()) -> Grouping:
        dims = set(query.group_by)
        by_direction = bool(dims & {"direction", "originatingDirection"})
        partial = by_direction and bool(set(partial_metrics) & set(query.metrics))
        return Grouping("queueId" in dims, "mediaType" in dims, by_direction, queues, partial)

    @property
    def media_groups(self) -> int:
        return _M if self.by_media else 1

    @property
    def direction_groups(self) -> int:
        return _D if self.by_direction else 1

    @property
    def count(self) -> int:
        """Detailed groups (ids 0..count-1)."""
        return (self.queues if self.by_queue else 1) * self.media_groups * self.direction_groups

    @property
    def total(self) -> int:
        """Detailed groups plus the groups without direction."""
        return self.count + (self.count // self.direction_groups if self.partial else 0)

    def ids(self, queue: np.ndarray, media: np.ndarray, direction: np.ndarray) -> np.ndarray:
        q = queue.astype(np.int64) if self.by_queue else np.zeros_like(queue, dtype=np.int64)
        m = media.astype(np.int64) if self.by_media else np.zeros_like(media, dtype=np.int64)
        d = direction.astype(np.int64) if self.by_direction else np.zeros_like(direction, dtype=np.int64)
        return (q * self.media_groups + m) * self.direction_groups + d

    def partial_ids(self, queue: np.ndarray, media: np.ndarray) -> np.ndarray:
        """Ids of the groups without direction."""
        q = queue.astype(np.int64) if self.by_queue else np.zeros_like(queue, dtype=np.int64)
        m = media.astype(np.int64) if self.by_media else np.zeros_like(media, dtype=np.int64)
        return self.count + q * self.media_groups + m

    def group_dict(self, org: SandboxOrg, group: int, query: AggregateQuery) -> dict[str, str]:
        without_direction = group >= self.count
        if without_direction:
            rest, d = group - self.count, 0
        else:
            rest, d = divmod(group, self.direction_groups)
        q, m = divmod(rest, self.media_groups)
        out: dict[str, str] = {}
        if self.by_queue:
            out["queueId"] = org.queues[q].id
        if self.by_media:
            out["mediaType"] = ANALYTICS_MEDIA_TYPES[m]
        if not without_direction:
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
    cfg = org.config
    grouping = Grouping.of(query, len(org.queues), cfg.partial_group_metrics)
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
    detailed_ids = grouping.ids(data.queue, data.media, data.direction)
    partial_ids = grouping.partial_ids(data.queue, data.media) if grouping.partial else detailed_ids
    in_filter = selected[data.queue, data.media, data.direction]
    group_target = _group_targets(org, selected, grouping)

    def cells_of(metric: str, gids: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        cells, values = [], []
        for times, value, selector in METRIC_SOURCES[metric][1](data, cfg):
            mask = in_filter & selector & (times >= query.start_ms) & (times < query.end_ms)
            bucket = np.searchsorted(edges, times[mask], side="right") - 1
            cells.append(gids[mask] * n_buckets + bucket)
            values.append(value[mask] if value is not None else None)
        if len(cells) == 1:
            return cells[0], values[0]
        joined = None if values[0] is None else np.concatenate(values)  # type: ignore[arg-type]
        return np.concatenate(cells), joined

    tables: list[tuple[int, str, _Rows]] = []
    for k, metric in enumerate(query.metrics):
        gids = partial_ids if metric in cfg.partial_group_metrics else detailed_ids
        if metric == "oServiceLevel":
            parts = {m: cells_of(m, gids)[0] for m in ("tAnswered", "nOverSla", "tAbandon", "tFlowOut")}
            parts["tShortAbandon"] = cells_of("tShortAbandon", gids)[0]
            rows = _service_level(parts, cfg)
            rows = _Rows(
                rows.cell, rows.count, rows.total, rows.low, rows.high, group_target[rows.cell // n_buckets]
            )
            tables.append((k, "o", rows))
        elif metric in METRIC_SOURCES:
            kind = METRIC_SOURCES[metric][0]
            cells, values = cells_of(metric, gids)
            tables.append((k, kind, _summarise(cells, values)))
    return AggregateTables(
        org, query, tuple(t for t in tables if t[2].cell.size), n_buckets, grouping, float_stats
    )


def _group_targets(org: SandboxOrg, selected: np.ndarray, grouping: Grouping) -> np.ndarray:
    """Service-level target (fraction) of each group: the queue's own for the channel, or the mean over the
    channels a roll-up covers."""
    q_idx, m_idx, d_idx = np.meshgrid(np.arange(len(org.queues)), np.arange(_M), np.arange(_D), indexing="ij")
    gids = [grouping.ids(q_idx, m_idx, d_idx).ravel()]
    if grouping.partial:
        gids.append(grouping.partial_ids(q_idx, m_idx).ravel())
    # Co-browse has no service-level settings: it never weighs in a target.
    served = np.concatenate([org.has_media, np.zeros((len(org.queues), 1), dtype=bool)], axis=1)
    weight = (selected & served[:, :, None]).astype(float).ravel()
    sl_target = np.concatenate([org.sl_target, np.zeros((len(org.queues), 1))], axis=1)
    targets = np.broadcast_to(sl_target[:, :, None], selected.shape).ravel()
    total = sum(np.bincount(g, weights=targets * weight, minlength=grouping.total) for g in gids)
    n = sum(np.bincount(g, weights=weight, minlength=grouping.total) for g in gids)
    return np.divide(total, n, out=np.zeros(grouping.total), where=n > 0)


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


def _service_level(cells: dict[str, np.ndarray], cfg: SandboxConfig) -> _Rows:
    """oServiceLevel per cell from the cells of each event (keys are metric names).

    numerator = answered - over SLA; denominator = answered + abandoned, + flow-outs when
    ``sl_include_flow_outs``, - abandons when not ``sl_include_abandons``, else - short abandons when not
    ``sl_include_short_abandons``. Cells whose denominator is 0 have no entry.
    """
    uniq = np.unique(np.concatenate([cells["tAnswered"], cells["tAbandon"], cells["tFlowOut"]]))
    n = uniq.size

    def per_cell(name: str) -> np.ndarray:
        return np.bincount(np.searchsorted(uniq, cells[name]), minlength=n).astype(np.int64)

    ans = per_cell("tAnswered")
    numerator = ans - per_cell("nOverSla")
    denominator = ans.copy()
    if cfg.sl_include_abandons:
        denominator += per_cell("tAbandon")
        if not cfg.sl_include_short_abandons:
            denominator -= per_cell("tShortAbandon")
    if cfg.sl_include_flow_outs:
        denominator += per_cell("tFlowOut")
    keep = denominator > 0
    uniq, numerator, denominator = uniq[keep], numerator[keep], denominator[keep]
    # `count` carries the numerator and `total` the denominator; low/high are unused.
    return _Rows(uniq, numerator, denominator, denominator, denominator, np.zeros(uniq.size))


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
