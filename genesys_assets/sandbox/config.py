"""Knobs of the sandbox Genesys org: what data it generates and how its API behaves.

`SandboxConfig` is an immutable record. The server holds one at a time; `SandboxServer.update(**knobs)` and
``POST /sandbox/config`` build a new one with :meth:`SandboxConfig.replace`, which accepts JSON-style values
(ISO date strings, lists) so the HTTP admin route, the CLI and Python callers share one parser.

Data knobs (seed, queues, dates, timezone, volume, quiet and restated days) decide the synthetic
conversations; changing one rebuilds the generator. Behaviour knobs (rate limit, faults, mutations,
permissions, limits) take effect on the next request. The org's analytics settings (short-abandon threshold,
service-level switches, partial-group metrics) are behaviour knobs too: like Genesys's own settings they
apply retroactively, to every answer given after the change, past dates included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from genesys_assets.sandbox.query import CONVERSATION_METRICS

PERMISSION_AGGREGATES: Final = "analytics:conversationAggregate:view"
PERMISSION_QUEUES: Final = "routing:queue:view"
ALL_PERMISSIONS: Final[tuple[str, ...]] = (PERMISSION_AGGREGATES, PERMISSION_QUEUES)

# Faults the server can serve instead of (or on top of) a normal answer.
#   429 / 500 / 503: JSON ErrorBody; 502 / 504: an HTML page as an edge proxy sends it;
#   expired_token: 401 credentials.expired; html200: 200 with an HTML page;
#   malformed: 200 application/json that is not JSON; truncated: the real body cut in half (complete HTTP
#   message); reset: the real body's headers and half its bytes, then the connection is reset;
#   slow: the real answer after about `slow_seconds`.
FAULT_KINDS: Final[tuple[str, ...]] = (
    "429",
    "500",
    "502",
    "503",
    "504",
    "expired_token",
    "html200",
    "malformed",
    "truncated",
    "reset",
    "slow",
)
# Where a scripted fault applies: "api" (default, any /api/v2 route), "token" (/oauth/token), "any".
FAULT_TARGETS: Final[tuple[str, ...]] = ("api", "token", "any")

# Response mutations for contract testing; each applies to every aggregates answer (sync and job pages).
MUTATIONS: Final[tuple[str, ...]] = (
    "negative_count",  # nOffered.count of the first bucket becomes negative
    "non_numeric",  # a stats.sum becomes a string that is not a number
    "null_queue",  # the first group's queueId becomes null
    "duplicate_group",  # the first group appears twice
    "outside_interval",  # a bucket one day before the query interval is added to the first group
    "misaligned",  # the first bucket's interval is shifted by 7 minutes
    "missing_metric",  # tHandle is dropped from every bucket
    "extra_fields",  # unknown fields appear at every level
    "partial_group",  # a copy of the first group with only mediaType (a partial group) is appended
    "sl_overflow",  # an oServiceLevel numerator exceeds its denominator
)


class ConfigError(ValueError):
    """A knob has an invalid value; the message names the knob and what is allowed."""


def _as_date(name: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not an ISO date (YYYY-MM-DD).") from None


def _as_instant(name: str, value: Any) -> datetime:
    try:
        instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not an ISO instant (YYYY-MM-DDTHH:MM:SSZ).") from None
    if instant.tzinfo is None:
        raise ConfigError(f"{name}: {value!r} has no UTC offset; add Z or +HH:MM.")
    return instant


def _as_dates(name: str, values: Any) -> frozenset[date]:
    if values is None:
        return frozenset()
    if isinstance(values, str | date):
        values = [values]
    return frozenset(_as_date(name, v) for v in values)


@dataclass(frozen=True)
class SandboxConfig:
    """Every knob of the sandbox org, with defaults that give a small, well-behaved org.

    Data:
        seed: decides every id, name and number; same seed, same org.
        queue_count: queues in the org (0 = empty org).
        timezone: the org's IANA timezone; conversations follow a daily curve in local time and are
            generated per local day.
        start_date, end_date: local days that have conversations (inclusive).
        conversations_per_queue_day: mean voice conversations per queue and weekday; other media types
            carry a share of it, weekends less.
        new_queue_share: share of queues created inside the date range (they have no data before).
        quiet_days: local days without any activity (the API omits them).
        quiet_queues: queues (index or id) that never have activity; they still appear in the listing.
        restated_days: local day -> version salt; a non-zero salt regenerates that day's conversations,
            as when Genesys restates recent data.
        restatement_delay_days: a restatement shows only this many days after its day's end (on `clock`),
            as Genesys's reprocessing starts at least two days after, and can take longer.
        clock: the org's "now" for delayed restatements (None = the real time).
        outbound_queue_share: share of the voice queues that also place outbound calls.
        sl_percentage_scale: 1.0 sends mediaSettings serviceLevel.percentage as a fraction (0.8),
            100.0 as a percentage (80.0). oServiceLevel.target is always a fraction.
        float_stats: send sums, mins, maxes and service-level numbers as floats (1234.0), as the real API
            may do.

    Analytics settings of the org (retroactive):
        short_abandon_threshold_s: an abandon whose queue wait is under this many seconds is also a short
            abandon (tShortAbandon), as set in "Configure abandon intervals".
        sl_include_flow_outs, sl_include_short_abandons, sl_include_abandons: the service-level calculation
            options of Admin > Contact Center > Analytics. The oServiceLevel denominator is answered +
            abandoned, plus flow-outs when the first is on, minus short abandons when the second is off,
            minus abandons when the third is off (short abandons are then subtracted once, as abandons).
        partial_group_metrics: metrics the org reports without the ``direction`` dimension. When a query
            groups by direction (or originatingDirection), these metrics' entries come in groups that leave
            the direction key out, apart from (never also in) the detailed groups.

    Behaviour:
        client_id, client_secret: the only credentials /oauth/token accepts.
        token_lifetime_s: expires_in of issued tokens; an expired token gets 401 credentials.expired.
        auth_error_status: status of a rejected token request (401 or 400; both occur in the field).
        permissions: permissions granted to the client; a route lacking its permission answers 403.
        requests_per_second, burst: server-side token bucket over /oauth/token and /api/v2 (None = off).
        fault_rates: kind -> share of /api/v2 requests answered with that fault, drawn from a seeded RNG.
        fault_seed: seed of that RNG (None = derived from `seed`).
        fault_script: one-shot faults served in order to the next matching requests, each
            "kind" or "target:kind" (target api, token or any), e.g. ("503", "token:429", "reset").
        retry_after_s: Retry-After of injected 429s.
        slow_seconds: delay of the "slow" fault.
        mutation: one of MUTATIONS applied to aggregates answers, or None.
        outage_days: local days whose queries and jobs answer 503 service.unavailable until removed.
        max_query_days: longest synchronous query interval in days (400 bad.request past it).
        max_job_days: longest async job interval in days.
        max_predicates: most predicates in one query's filter (400 bad.request past it).
        max_answer_entries: most metric entries in one synchronous answer or job (400 past it; None: no cap).
        job_page_size: most groups per async results page (a smaller pageSize in the job body wins).
        job_polls: status polls that answer QUEUED/PENDING before a job is FULFILLED.
        job_ttl_s: seconds after submission when a job expires.
        job_fail: jobs end FAILED instead of FULFILLED.
        max_queue_page_size: largest pageSize accepted by the queue listing.
        cache_days: generated days kept in memory.
    """

    seed: int = 7
    queue_count: int = 10
    timezone: str = "UTC"
    start_date: date = date(2026, 1, 1)
    end_date: date = date(2026, 12, 31)
    conversations_per_queue_day: float = 60.0
    new_queue_share: float = 0.1
    quiet_days: frozenset[date] = frozenset()
    quiet_queues: tuple[int | str, ...] = ()
    restated_days: Mapping[date, int] = field(default_factory=dict)
    restatement_delay_days: float = 0.0
    clock: datetime | None = None
    outbound_queue_share: float = 0.4
    sl_percentage_scale: float = 1.0
    float_stats: bool = False
    short_abandon_threshold_s: float = 10.0
    sl_include_flow_outs: bool = False
    sl_include_short_abandons: bool = True
    sl_include_abandons: bool = True
    partial_group_metrics: tuple[str, ...] = ()

    client_id: str = "sandbox-client"
    client_secret: str = field(default="sandbox-secret", repr=False)
    token_lifetime_s: float = 86400.0
    auth_error_status: int = 401
    permissions: tuple[str, ...] = ALL_PERMISSIONS
    requests_per_second: float | None = None
    burst: int = 10
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    fault_seed: int | None = None
    fault_script: tuple[str, ...] = ()
    retry_after_s: int = 1
    slow_seconds: float = 2.0
    mutation: str | None = None
    outage_days: frozenset[date] = frozenset()
    max_query_days: int = 7
    max_job_days: int = 31
    max_predicates: int = 100
    max_answer_entries: int | None = None
    job_page_size: int = 50
    job_polls: int = 1
    job_ttl_s: float = 3600.0
    job_fail: bool = False
    max_queue_page_size: int = 500
    cache_days: int = 64

    def __post_init__(self) -> None:
        coerce = object.__setattr__
        coerce(self, "start_date", _as_date("start_date", self.start_date))
        coerce(self, "end_date", _as_date("end_date", self.end_date))
        coerce(self, "quiet_days", _as_dates("quiet_days", self.quiet_days))
        coerce(self, "outage_days", _as_dates("outage_days", self.outage_days))
        coerce(
            self,
            "restated_days",
            {_as_date("restated_days", k): int(v) for k, v in dict(self.restated_days or {}).items()},
        )
        coerce(self, "quiet_queues", tuple(self.quiet_queues or ()))
        if self.clock is not None and not isinstance(self.clock, datetime):
            coerce(self, "clock", _as_instant("clock", self.clock))
        coerce(self, "permissions", tuple(self.permissions or ()))
        coerce(self, "fault_script", tuple(self.fault_script or ()))
        coerce(self, "partial_group_metrics", tuple(dict.fromkeys(self.partial_group_metrics or ())))
        coerce(self, "fault_rates", {str(k): float(v) for k, v in dict(self.fault_rates or {}).items()})
        self._validate()

    def _validate(self) -> None:
        if not 0 <= self.queue_count <= 5000:
            raise ConfigError(f"queue_count must be between 0 and 5000, got {self.queue_count}.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"timezone {self.timezone!r} is not an IANA timezone name.") from None
        if self.end_date < self.start_date:
            raise ConfigError(f"end_date {self.end_date} is before start_date {self.start_date}.")
        if self.conversations_per_queue_day < 0:
            raise ConfigError("conversations_per_queue_day must be >= 0.")
        if not 0 <= self.new_queue_share <= 1:
            raise ConfigError("new_queue_share must be between 0 and 1.")
        if not 0 <= self.outbound_queue_share <= 1:
            raise ConfigError("outbound_queue_share must be between 0 and 1.")
        if not 0 <= self.short_abandon_threshold_s <= 3600:
            raise ConfigError("short_abandon_threshold_s must be between 0 and 3600 seconds.")
        unknown_metrics = sorted(set(self.partial_group_metrics) - set(CONVERSATION_METRICS))
        if unknown_metrics:
            raise ConfigError(
                f"partial_group_metrics has unknown metrics {unknown_metrics}; use names of the conversation "
                "aggregate metric catalogue, e.g. nConnected or tAlert."
            )
        if self.restatement_delay_days < 0:
            raise ConfigError("restatement_delay_days must be >= 0.")
        if self.max_answer_entries is not None and self.max_answer_entries < 1:
            raise ConfigError("max_answer_entries must be >= 1 (or None for no cap).")
        unknown = sorted(set(self.fault_rates) - set(FAULT_KINDS))
        if unknown:
            raise ConfigError(f"fault_rates has unknown kinds {unknown}; known: {list(FAULT_KINDS)}.")
        if any(v < 0 for v in self.fault_rates.values()) or sum(self.fault_rates.values()) > 1:
            raise ConfigError("fault_rates shares must be >= 0 and add up to at most 1.")
        for item in self.fault_script:
            parse_fault(item)
        if self.mutation is not None and self.mutation not in MUTATIONS:
            raise ConfigError(f"mutation {self.mutation!r} is unknown; known: {list(MUTATIONS)}.")
        if self.requests_per_second is not None and self.requests_per_second <= 0:
            raise ConfigError("requests_per_second must be > 0 (or None to turn the limit off).")
        if self.burst < 1:
            raise ConfigError("burst must be >= 1.")
        if self.auth_error_status not in (400, 401):
            raise ConfigError("auth_error_status must be 400 or 401.")
        for name in (
            "max_query_days",
            "max_job_days",
            "max_predicates",
            "job_page_size",
            "max_queue_page_size",
            "cache_days",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1.")
        if self.job_polls < 0 or self.token_lifetime_s <= 0 or self.job_ttl_s <= 0:
            raise ConfigError("job_polls must be >= 0; token_lifetime_s and job_ttl_s must be > 0.")

    def replace(self, **knobs: Any) -> SandboxConfig:
        """A copy with the given knobs changed; JSON-style values are accepted. Unknown knobs raise."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(knobs) - names)
        if unknown:
            raise ConfigError(f"Unknown sandbox knob(s) {unknown}; known knobs: {sorted(names)}.")
        for name in ("fault_script", "quiet_queues", "permissions", "partial_group_metrics"):
            if name in knobs and isinstance(knobs[name], str):
                knobs[name] = (knobs[name],)
        try:
            return dataclasses.replace(self, **knobs)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"Invalid sandbox knob value: {exc}") from None

    def data_key(self) -> tuple[Any, ...]:
        """The knobs that decide the generated data; a change rebuilds the generator."""
        return (
            self.seed,
            self.queue_count,
            self.timezone,
            self.start_date,
            self.end_date,
            self.conversations_per_queue_day,
            self.new_queue_share,
            tuple(sorted(self.quiet_days)),
            self.quiet_queues,
            tuple(sorted(self.restated_days.items())),
            self.restatement_delay_days,
            self.clock,
            self.outbound_queue_share,
            self.sl_percentage_scale,
        )

    def to_json(self, *, show_secret: bool = False) -> dict[str, Any]:
        """JSON-ready knobs (dates as ISO strings). The client secret is masked unless asked for."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date | datetime):
                value = value.isoformat()
            elif isinstance(value, frozenset):
                value = sorted(d.isoformat() for d in value)
            elif f.name == "restated_days":
                value = {k.isoformat(): v for k, v in sorted(value.items())}
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        if not show_secret:
            out["client_secret"] = "***"
        return out


def parse_fault(item: str) -> tuple[str, str]:
    """Split a scripted fault "target:kind" (target optional, default "api") and validate it."""
    target, _, kind = item.rpartition(":")
    target = target or "api"
    if kind not in FAULT_KINDS or target not in FAULT_TARGETS:
        raise ConfigError(
            f"fault_script item {item!r} is invalid; use KIND or TARGET:KIND with KIND in "
            f"{list(FAULT_KINDS)} and TARGET in {list(FAULT_TARGETS)}."
        )
    return target, kind


def parse_fault_rates(text: str) -> dict[str, float]:
    """Parse "429=0.1,503=0.05" (CLI form) into fault_rates."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, share = part.partition("=")
        try:
            rates[kind.strip()] = float(share)
        except ValueError:
            raise ConfigError(f"fault rate {part!r} is not KIND=SHARE.") from None
    return rates
