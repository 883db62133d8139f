"""Small immutable records the Genesys client returns: queues, call counters, aggregate chunks, progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    import polars as pl

FetchMode = Literal["sync", "async"]

# Media types of the analytics API a queue can serve, in display order: the channels with a service-level
# block in a queue's mediaSettings ("voice" is "call" there).
MEDIA_TYPES: Final[tuple[str, ...]] = ("voice", "callback", "chat", "email", "message")
# Every `mediaType` an analytics session can carry (the SDK's `AnalyticsSession.media_type` enum). Secondary
# media ride on a conversation that is counted under its own primary channel: a co-browse session starts
# inside a chat, message or voice interaction, screen share is the legacy co-browse, and screen monitoring is
# a supervisor watching an agent's screen. Their figures are kept as their own channel and never added into
# all-channel totals, which would count the customer twice.
SECONDARY_MEDIA_TYPES: Final[tuple[str, ...]] = ("cobrowse", "screenshare", "screenmonitoring")
ANALYTICS_MEDIA_TYPES: Final[tuple[str, ...]] = (
    *MEDIA_TYPES,
    "video",
    "internalmessage",
    *SECONDARY_MEDIA_TYPES,
    "unknown",
)
# Media types in which Genesys never counts an abandon, so an abandon rate is undefined there (null, never 0):
# web messaging (Resource Center, "Why does the Offered metric not always equal the Answered plus Abandoned
# metrics?": abandons do not apply to messaging) and email, which is queued work a customer cannot hang up on
# (real orgs' email rows carry offers and answers, never tAbandon).
MEDIA_WITHOUT_ABANDONS: Final[tuple[str, ...]] = ("message", "email")
# The conversation directions the aggregates are split by (the `direction` dimension of a session).
DIRECTIONS: Final[tuple[str, ...]] = ("inbound", "outbound")


# A service-level target is a fraction 0..1 wherever Genesys writes it as 0.8 or as 80 (a queue's
# `serviceLevel.percentage`, an aggregate's `oServiceLevel.target`): a value above 1 is a percentage, and a
# value outside 0..100 is unusable (None).


def normalise_percentage(value: Any) -> float | None:
    """A service-level target as a fraction 0..1, whether Genesys sent 0.8 or 80; None if unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if number < 0 or number > 100 or number != number:
        return None
    return number / 100.0 if number > 1 else number


def normalise_percentage_expr(values: pl.Expr) -> pl.Expr:
    """`normalise_percentage` of a polars float column (null where unusable)."""
    import polars as pl  # the API client uses this module without polars

    return (
        pl.when(values.is_nan() | (values < 0) | (values > 100))
        .then(None)
        .when(values > 1)
        .then(values / 100.0)
        .otherwise(values)
    )


@dataclass(frozen=True)
class Queue:
    """One routing queue as the pipeline uses it (the `genesys_queues` directory row).

    ``service_levels`` maps each media settings block to (target as a fraction 0..1, threshold in ms), keyed
    by analytics media type (``voice``, not the queue settings' ``call``); either value is None when unset
    or unusable. Every queue carries all five blocks, whatever channels it serves, so they say nothing about
    the channels: those come from traffic.
    """

    id: str
    name: str
    division_id: str | None
    division_name: str | None
    service_levels: dict[str, tuple[float | None, int | None]]
    date_created: datetime | None


@dataclass(frozen=True)
class CallStats:
    """Counters of one client's HTTP traffic, for run metadata.

    ``api_calls`` and ``token_calls`` count every HTTP attempt (retries included) to the API and login
    hosts; ``http_429`` the rate-limit answers; ``retries`` every backoff-and-retry; ``faults_retried``
    the retries caused by 5xx, timeouts, connection errors or broken bodies (``retries`` minus 429s);
    ``rate_limit_wait_s`` the time spent waiting for the shared token bucket.
    """

    api_calls: int = 0
    token_calls: int = 0
    http_429: int = 0
    retries: int = 0
    faults_retried: int = 0
    rate_limit_wait_s: float = 0.0

    @property
    def total_calls(self) -> int:
        return self.api_calls + self.token_calls


@dataclass(frozen=True)
class ChunkPlan:
    """One planned query: local days ``first_day``..``last_day`` and their half-open UTC window."""

    first_day: date
    last_day: date
    window_start: datetime
    window_end: datetime

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True)
class FetchPlan:
    """How a date range is fetched: the chosen mode, its chunks, and the call estimates behind the choice."""

    mode: FetchMode
    chunks: tuple[ChunkPlan, ...]
    estimated_calls: int
    sync_calls: int
    async_calls: int


@dataclass(frozen=True)
class AggregatesChunk:
    """The answer of one planned chunk (a synchronous query, or every result page of a job), as the fetch's
    answer reader made it: by default the parsed JSON object, whose `results` are Genesys's
    ``ConversationAggregateDataContainer`` dicts.
    """

    first_day: date
    last_day: date
    window_start: datetime
    window_end: datetime
    answer: Any

    @property
    def results(self) -> list[dict[str, Any]]:
        """The answer's ``results`` entries (default reader only)."""
        return list(self.answer.get("results") or [])


@dataclass(frozen=True)
class AggregatesFetch:
    """Every chunk of a range fetch and the number of HTTP calls it took (token calls included)."""

    chunks: list[AggregatesChunk]
    calls: int
    mode: FetchMode = "sync"


@dataclass(frozen=True)
class FetchProgress:
    """Progress of a range fetch, reported after each chunk and readable as one log line."""

    mode: FetchMode
    chunks_done: int
    chunks_total: int
    calls: int
    http_429: int
    first_day: date
    last_day: date

    def __str__(self) -> str:
        return (
            f"Genesys aggregates ({self.mode}): {self.chunks_done}/{self.chunks_total} chunks done, "
            f"last chunk {self.first_day}..{self.last_day}, {self.calls} calls, {self.http_429} HTTP 429s"
        )
