"""Parsing and validation of a `ConversationAggregationQuery` body, and its bucket edges.

The sandbox accepts what the pipeline sends and answers anything else the way the platform does: 400 with
a message naming the offending value. Supported: ``interval`` (offsets allowed; an instant without offset
is UTC), ``granularity`` (any ISO-8601 duration of whole minutes, days, weeks, months or years; absent =
one bucket), ``timeZone`` (IANA), ``groupBy`` (queueId, mediaType), ``filter`` (and/or clauses of
dimension predicates on queueId, mediaType, divisionId, direction, originatingDirection), ``metrics`` and,
for jobs, ``pageSize``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from genesys_assets.sandbox.errors import ApiError, bad_request, invalid_value

# The conversation aggregate metrics of the platform: the SDK's `ConversationAggregationView.target` enum
# (PureCloudPlatformClientV2 269). Observation metrics such as oInteracting and oWaiting are not among them.
CONVERSATION_METRICS: Final[tuple[str, ...]] = (
    "nAgentDeclined", "nAlertExpired", "nBlindTransferred", "nBotInteractions", "nCallbackAttempts",
    "nCallbackOverSla", "nCallbackScheduled", "nCfcOffered", "nCobrowseSessions", "nConnected", "nConsult",
    "nConsultTransferred", "nConversations", "nError", "nOffered", "nOutbound", "nOutboundAbandoned",
    "nOutboundAttempted", "nOutboundConnected", "nOverSla", "nStateTransitionError", "nTakeover",
    "nTransferred", "oAudioMessageCount", "oCallbackServiceLevel", "oExternalAudioMessageCount",
    "oExternalMediaCount", "oMediaCount", "oMessageCount", "oMessageSegmentCount", "oMessageTurn",
    "oServiceLevel", "oServiceTarget", "oSkillExpressionApplications", "tAbandon", "tAcd",
    "tActiveCallback", "tActiveCallbackComplete", "tAcw", "tAgentResponseTime", "tAgentVideoConnected",
    "tAlert", "tAnswered", "tAverageAgentResponseTime", "tAverageCustomerResponseTime", "tBarging",
    "tCallbackAbandon", "tCallbackConnect", "tCallbackNotReached", "tCallbackVirtualWait", "tCfcAbandon",
    "tCfcAcd", "tCfcAnswered", "tCfcFlowOut", "tCoaching", "tCoachingComplete", "tConnected",
    "tContacting", "tDialing", "tFirstConnect", "tFirstDial", "tFirstEngagement", "tFirstResponse",
    "tFlowOut", "tHandle", "tHeld", "tHeldComplete", "tIvr", "tMonitoring", "tMonitoringComplete",
    "tNotResponding", "tPark", "tParkComplete", "tScreenMonitoring", "tShortAbandon", "tSnippetRecord",
    "tTalk", "tTalkComplete", "tTransmitting", "tUserResponseTime", "tVoicemail", "tWait",
)  # fmt: skip
KNOWN_METRICS: Final = frozenset(CONVERSATION_METRICS)
# Every sandbox conversation keeps one direction, so its direction and originating direction are the same.
GROUP_BY_DIMENSIONS: Final[tuple[str, ...]] = ("queueId", "mediaType", "direction", "originatingDirection")
FILTER_DIMENSIONS: Final[tuple[str, ...]] = (
    "queueId",
    "mediaType",
    "divisionId",
    "direction",
    "originatingDirection",
)
# Dimension names the platform knows; the sandbox answers 400 "not supported" for those it cannot filter.
PLATFORM_DIMENSIONS: Final = frozenset(
    (
        *FILTER_DIMENSIONS,
        "userId",
        "wrapUpCode",
        "conversationId",
        "purpose",
        "requestedRoutingSkillId",
        "disconnectType",
        "flowOutType",
        "firstQueue",
        "usedRouting",
        "requestedRouting",
        "routingPriority",
        "ani",
        "dnis",
        "sessionId",
        "edgeId",
        "stationId",
    )
)
MEDIA_TYPE_VALUES: Final[tuple[str, ...]] = (
    "voice",
    "callback",
    "chat",
    "email",
    "message",
    "cobrowse",
    "screenshare",
    "video",
    "internalmessage",
)
MAX_BUCKETS: Final = 20_000

_DURATION = re.compile(
    r"^P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


@dataclass(frozen=True)
class Granularity:
    """An ISO-8601 duration split into a calendar part (applied on the local calendar) and a time part."""

    text: str
    months: int
    days: int
    time_ms: int

    @property
    def is_calendar(self) -> bool:
        return self.months > 0 or self.days > 0


@dataclass(frozen=True)
class AggregateQuery:
    """A validated aggregates query.

    ``edges`` are the bucket boundaries in epoch ms (``len(edges) - 1`` buckets; the last bucket is cut at
    the interval end). ``selects(target)`` evaluates the filter for one queue x media type x direction.
    """

    start_ms: int
    end_ms: int
    timezone: str
    granularity: str | None
    edges: np.ndarray
    group_by: tuple[str, ...]
    metrics: tuple[str, ...]
    selects: Selector
    predicate_count: int
    page_size: int | None

    @property
    def days_long(self) -> float:
        return (self.end_ms - self.start_ms) / 86_400_000


def parse_granularity(text: Any) -> Granularity:
    if not isinstance(text, str) or not (match := _DURATION.match(text)) or text in ("P", "PT"):
        raise bad_request(
            f"Invalid granularity [{text}]. Use an ISO-8601 duration such as PT15M, PT30M, PT1H or P1D.",
            field_name="granularity",
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    months = 12 * parts.get("Y", 0) + parts.get("M", 0)
    days = 7 * parts.get("W", 0) + parts.get("D", 0)
    time_ms = (3600 * parts.get("h", 0) + 60 * parts.get("m", 0) + parts.get("s", 0)) * 1000
    if months == 0 and days == 0 and time_ms == 0:
        raise bad_request(f"Invalid granularity [{text}]: the duration is zero.", field_name="granularity")
    if time_ms % 60_000:
        raise bad_request(
            f"Invalid granularity [{text}]: durations must be whole minutes.", field_name="granularity"
        )
    return Granularity(text, months, days, time_ms)


def parse_instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_interval(value: Any) -> tuple[datetime, datetime]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise ApiError(400, "invalid.date", details=[{"errorCode": "invalid.date", "fieldName": "interval"}])
    start_text, end_text = value.split("/")
    try:
        start, end = parse_instant(start_text), parse_instant(end_text)
    except ValueError:
        raise ApiError(
            400, "invalid.date", details=[{"errorCode": "invalid.date", "fieldName": "interval"}]
        ) from None
    if end <= start:
        raise bad_request(
            f"Invalid interval [{value}]: the end must be after the start.", field_name="interval"
        )
    return start, end


def parse_timezone(value: Any) -> str:
    if value is None:
        return "UTC"
    if isinstance(value, str) and value and ".." not in value:
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise bad_request(
        f"Invalid timeZone [{value}]. Use an IANA time zone name such as UTC, Europe/Berlin or America/New_York.",
        field_name="timeZone",
    )


def _add_calendar(instant: datetime, gran: Granularity, tz: ZoneInfo) -> datetime:
    local = instant.astimezone(tz)
    naive = local.replace(tzinfo=None)
    if gran.months:
        month_index = naive.month - 1 + gran.months
        year, month = naive.year + month_index // 12, month_index % 12 + 1
        day = naive.day
        while True:
            try:
                naive = naive.replace(year=year, month=month, day=day)
                break
            except ValueError:
                day -= 1
    naive = naive + timedelta(days=gran.days)
    return naive.replace(tzinfo=tz).astimezone(UTC) + timedelta(milliseconds=gran.time_ms)


def bucket_edges(start: datetime, end: datetime, gran: Granularity | None, timezone: str) -> np.ndarray:
    """Bucket boundaries (epoch ms) from start, stepping by the granularity in the timezone, cut at end."""
    start_ms, end_ms = _ms(start), _ms(end)
    if gran is None:
        return np.array([start_ms, end_ms], dtype=np.int64)
    if not gran.is_calendar:
        count = -(-(end_ms - start_ms) // gran.time_ms)
        if count > MAX_BUCKETS:
            raise _too_many(gran.text)
        edges = start_ms + gran.time_ms * np.arange(count + 1, dtype=np.int64)
        edges[-1] = end_ms
        return edges
    tz = ZoneInfo(timezone)
    out = [start_ms]
    current = start
    while out[-1] < end_ms:
        current = _add_calendar(current, gran, tz)
        out.append(min(_ms(current), end_ms))
        if len(out) > MAX_BUCKETS + 1:
            raise _too_many(gran.text)
    return np.array(out, dtype=np.int64)


def _too_many(granularity: str) -> ApiError:
    return bad_request(
        f"The query would return more than {MAX_BUCKETS} intervals at granularity [{granularity}]. "
        "Use a shorter interval or a coarser granularity.",
        field_name="granularity",
    )


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


@dataclass(frozen=True)
class Target:
    """What a filter is evaluated on: one queue x media type x direction group of the org."""

    queue_id: str
    media: str
    division_id: str
    direction: str


Selector = Callable[[Target], bool]


def count_predicates(node: Any) -> int:
    """Predicates in a filter, its clauses included."""
    if not isinstance(node, dict):
        return 0
    return len(node.get("predicates") or []) + sum(count_predicates(c) for c in node.get("clauses") or [])


def _compile_filter(node: Any, path: str = "filter") -> Selector:
    """Compile a filter (or clause) into a predicate over a `Target`."""
    if not isinstance(node, dict):
        raise bad_request(f"{path} must be an object with type, clauses and predicates.", field_name=path)
    kind = node.get("type", "and")
    if kind not in ("and", "or"):
        raise invalid_value(str(kind), "FilterType", "and, or")
    tests: list[Selector] = []
    for i, clause in enumerate(node.get("clauses") or []):
        tests.append(_compile_filter(clause, f"{path}.clauses[{i}]"))
    for i, predicate in enumerate(node.get("predicates") or []):
        tests.append(_compile_predicate(predicate, f"{path}.predicates[{i}]"))
    if not tests:
        return lambda target: True
    if kind == "and":
        return lambda target: all(t(target) for t in tests)
    return lambda target: any(t(target) for t in tests)


def _compile_predicate(pred: Any, path: str) -> Selector:
    if not isinstance(pred, dict):
        raise bad_request(f"{path} must be an object.", field_name=path)
    ptype = pred.get("type", "dimension")
    if ptype != "dimension":
        raise bad_request(
            f"{path}: predicate type [{ptype}] is not supported by the sandbox org; use dimension predicates.",
            field_name=path,
        )
    dim = pred.get("dimension")
    if dim not in PLATFORM_DIMENSIONS:
        raise invalid_value(
            str(dim), "ConversationAggregationDimension", ", ".join(sorted(PLATFORM_DIMENSIONS))
        )
    if dim not in FILTER_DIMENSIONS:
        raise bad_request(
            f"{path}: filtering on dimension [{dim}] is not supported by the sandbox org; supported: "
            f"{', '.join(FILTER_DIMENSIONS)}.",
            field_name=path,
        )
    operator = pred.get("operator", "matches")
    if operator not in ("matches", "exists", "notExists"):
        raise invalid_value(str(operator), "PredicateOperator", "matches, exists, notExists")
    if operator == "exists":
        return lambda target: True
    if operator == "notExists":
        return lambda target: False
    value = pred.get("value")
    if not isinstance(value, str):
        raise bad_request(f"{path}: a matches predicate needs a string value.", field_name=path)
    if dim == "queueId":
        return lambda target: target.queue_id == value
    if dim == "mediaType":
        if value not in MEDIA_TYPE_VALUES:
            raise invalid_value(value, "MediaType", ", ".join(MEDIA_TYPE_VALUES))
        return lambda target: target.media == value
    if dim == "divisionId":
        return lambda target: target.division_id == value
    # direction / originatingDirection: the same for every sandbox conversation.
    if value not in ("inbound", "outbound"):
        raise invalid_value(value, "Direction", "inbound, outbound")
    return lambda target: target.direction == value


def parse_query(body: Any, *, is_job: bool = False) -> AggregateQuery:
    """Validate a ConversationAggregationQuery (or ConversationAsyncAggregationQuery when ``is_job``)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (ConversationAggregationQuery).")
    if "interval" not in body:
        raise bad_request("The interval is required, e.g. 2026-03-01T00:00:00.000Z/2026-03-02T00:00:00.000Z.")
    start, end = parse_interval(body["interval"])
    timezone = parse_timezone(body.get("timeZone"))
    gran_text = body.get("granularity")
    gran = parse_granularity(gran_text) if gran_text is not None else None
    group_by = body.get("groupBy") or []
    if not isinstance(group_by, list) or not all(isinstance(g, str) for g in group_by):
        raise bad_request("groupBy must be a list of dimension names.", field_name="groupBy")
    for dim in group_by:
        if dim not in PLATFORM_DIMENSIONS:
            raise invalid_value(
                dim, "ConversationAggregationDimension", ", ".join(sorted(PLATFORM_DIMENSIONS))
            )
        if dim not in GROUP_BY_DIMENSIONS:
            raise bad_request(
                f"groupBy dimension [{dim}] is not supported by the sandbox org; supported: "
                f"{', '.join(GROUP_BY_DIMENSIONS)}.",
                field_name="groupBy",
            )
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise bad_request("metrics must be a non-empty list of metric names.", field_name="metrics")
    for metric in metrics:
        if metric not in KNOWN_METRICS:
            raise invalid_value(metric, "ConversationAggregateMetric", ", ".join(sorted(KNOWN_METRICS)))
    if body.get("views"):
        raise bad_request("views are not supported by the sandbox org.", field_name="views")
    query_type = body.get("queryType", "groupBy")
    if query_type != "groupBy":
        raise bad_request(
            f"queryType [{query_type}] is not supported by the sandbox org.", field_name="queryType"
        )
    selects = _compile_filter(body["filter"]) if body.get("filter") is not None else (lambda target: True)
    page_size = None
    if is_job and body.get("pageSize") is not None:
        page_size = body["pageSize"]
        if not isinstance(page_size, int) or page_size < 1:
            raise bad_request("pageSize must be a positive integer.", field_name="pageSize")
    edges = bucket_edges(start, end, gran, timezone)
    return AggregateQuery(
        start_ms=_ms(start),
        end_ms=_ms(end),
        timezone=timezone,
        granularity=gran_text,
        edges=edges,
        group_by=tuple(dict.fromkeys(group_by)),
        metrics=tuple(dict.fromkeys(metrics)),
        selects=selects,
        predicate_count=count_predicates(body.get("filter")),
        page_size=page_size,
    )
