"""Deterministic synthetic queues and conversations of the sandbox org.

Every random number is a counter-based hash (splitmix64) of the seed and the coordinates of what it
describes: a queue attribute hashes (seed, queue index, attribute); a conversation field hashes
(seed, restatement salt, queue, media type, local day, conversation number, field). A day's conversations
therefore never depend on which range is queried or in which order days are generated, and generation is
fully vectorised with numpy.

Conversations are generated per local day of the org's timezone and carry the instants (UTC epoch
milliseconds) of each metric's event:

* ``offered``: queue entry (nOffered);
* ``wait_end``: end of the queue wait (tAnswered / tAbandon / tFlowOut / tWait / nOverSla);
* ``hold_end``: end of hold (tHeldComplete), ``talk_end``: end of talk (tTalkComplete);
* ``acw_end``: end of after-call work (tAcw, tHandle).

A conversation offered late in the evening can be answered or handled after local midnight, so its
metrics land on two days; durations are capped so nothing spills past the next day.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from genesys_assets.localtime import day_bounds
from genesys_assets.sandbox.config import SandboxConfig

MEDIA_TYPES: Final[tuple[str, ...]] = ("voice", "callback", "chat", "email", "message")
MEDIA_INDEX: Final[dict[str, int]] = {m: i for i, m in enumerate(MEDIA_TYPES)}
# Queue settings name of each analytics media type ("voice" is "call" in mediaSettings).
SETTINGS_NAME: Final[dict[str, str]] = {
    "voice": "call",
    "callback": "callback",
    "chat": "chat",
    "email": "email",
    "message": "message",
}

# Per media type (MEDIA_TYPES order): chance a queue offers it, volume share of the voice volume,
# wait multiplier, median talk seconds, chance of hold, abandon share of unanswered conversations,
# service-level threshold choices (seconds), alerting timeout seconds.
_HAS_MEDIA = np.array([1.0, 0.3, 0.5, 0.35, 0.25])
_VOLUME_SHARE = np.array([1.0, 0.15, 0.4, 0.25, 0.3])
_WAIT_FACTOR = np.array([1.0, 3.0, 0.8, 40.0, 2.0])
_TALK_MEDIAN_S = np.array([240.0, 210.0, 480.0, 360.0, 600.0])
_HOLD_CHANCE = np.array([0.3, 0.25, 0.0, 0.0, 0.0])
_ABANDON_SHARE = np.array([0.7, 0.3, 0.8, 0.2, 0.6])
_SL_SECONDS: Final[tuple[tuple[int, ...], ...]] = (
    (15, 20, 20, 30, 45),
    (1800, 3600),
    (30, 60, 90),
    (14400, 28800),
    (300, 600),
)
_ALERT_TIMEOUT_S: Final[tuple[int, ...]] = (8, 30, 30, 300, 60)
_SL_PERCENTAGES: Final[tuple[float, ...]] = (0.7, 0.75, 0.8, 0.85, 0.9)
_WEEKDAY_FACTOR = np.array([1.1, 1.0, 1.0, 0.95, 0.9, 0.45, 0.3])

_DEPARTMENTS: Final = (
    "Sales",
    "Support",
    "Billing",
    "Retention",
    "Technical",
    "Claims",
    "Onboarding",
    "Collections",
    "Reservations",
    "Helpdesk",
    "Renewals",
    "Escalations",
)
_LANGUAGES: Final = ("EN", "DE", "FR", "ES", "NL", "IT", "PL")
_DIVISIONS: Final = ("Home", "Customer Care", "Commercial")

# Caps (ms) that keep every event within the day after the offer.
_MAX_WAIT_MS: Final = 4 * 3600_000
_MAX_TALK_MS: Final = 2 * 3600_000
_MAX_HOLD_MS: Final = 1800_000
_MAX_ACW_MS: Final = 1800_000

OUTCOME_ANSWERED: Final = 0
OUTCOME_ABANDONED: Final = 1
OUTCOME_FLOW_OUT: Final = 2

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _key(*parts: int | np.ndarray) -> np.ndarray:
    """Hash a sequence of integers (scalars or equal-length arrays) into uint64 keys."""
    h = np.zeros(1, dtype=np.uint64)
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = part.astype(np.int64).astype(np.uint64)
        else:
            arr = np.array([int(part) & _MASK64], dtype=np.uint64)
        h = _mix(h ^ (arr + _GOLDEN))
    return h


def _uniform(keys: np.ndarray, field_id: int) -> np.ndarray:
    """Uniform [0, 1) numbers, one per key, for a numbered field."""
    salt = np.uint64((field_id * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64)
    return (_mix(keys ^ salt) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def _normal(keys: np.ndarray, field_id: int) -> np.ndarray:
    """Standard normal numbers (Box-Muller on two hashed uniforms)."""
    u1 = 1.0 - _uniform(keys, field_id)
    u2 = _uniform(keys, field_id + 1000)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _exponential(keys: np.ndarray, field_id: int, mean: np.ndarray | float) -> np.ndarray:
    return -np.log(1.0 - _uniform(keys, field_id)) * mean


def _uuid(*parts: object) -> str:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def day_bounds_ms(day: date, timezone: str) -> tuple[int, int]:
    """Half-open [start, end) of a local day in UTC epoch milliseconds."""
    start, end = day_bounds(day, timezone)
    return _ms(start), _ms(end)


@dataclass(frozen=True)
class SandboxQueue:
    """One queue of the sandbox org, with the parameters that drive its conversations.

    ``service_levels`` maps each analytics media type to (target fraction 0..1, threshold ms).
    """

    index: int
    id: str
    name: str
    division_id: str
    division_name: str
    media_types: tuple[str, ...]
    service_levels: dict[str, tuple[float, int]]
    date_created: datetime
    quiet: bool


@dataclass(frozen=True)
class DayData:
    """Column arrays of the conversations offered on one or more local days (one row per conversation)."""

    queue: np.ndarray  # int32 queue index
    media: np.ndarray  # int8 media index (MEDIA_TYPES)
    outcome: np.ndarray  # int8 OUTCOME_*
    over_sla: np.ndarray  # bool: answered after the queue's service-level threshold
    offered: np.ndarray  # int64 epoch ms of each event
    wait_end: np.ndarray
    hold_end: np.ndarray
    talk_end: np.ndarray
    acw_end: np.ndarray
    wait: np.ndarray  # int64 durations in ms
    talk: np.ndarray
    hold: np.ndarray
    acw: np.ndarray

    @property
    def handle(self) -> np.ndarray:
        return self.talk + self.hold + self.acw

    def __len__(self) -> int:
        return int(self.queue.shape[0])

    @staticmethod
    def empty() -> DayData:
        i64 = np.zeros(0, dtype=np.int64)
        return DayData(
            queue=np.zeros(0, dtype=np.int32),
            media=np.zeros(0, dtype=np.int8),
            outcome=np.zeros(0, dtype=np.int8),
            over_sla=np.zeros(0, dtype=bool),
            offered=i64,
            wait_end=i64,
            hold_end=i64,
            talk_end=i64,
            acw_end=i64,
            wait=i64,
            talk=i64,
            hold=i64,
            acw=i64,
        )

    @staticmethod
    def concat(parts: list[DayData]) -> DayData:
        parts = [p for p in parts if len(p)]
        if not parts:
            return DayData.empty()
        if len(parts) == 1:
            return parts[0]
        names = [f for f in DayData.__dataclass_fields__]
        return DayData(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def nbytes(self) -> int:
        return sum(getattr(self, n).nbytes for n in DayData.__dataclass_fields__)


class SandboxOrg:
    """Queues and per-day conversations of one data configuration, with an LRU cache of generated days.

    Thread-safe: generation happens outside the lock, so two threads may build the same day once each;
    both results are identical.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.timezone = config.timezone
        self.queues: tuple[SandboxQueue, ...] = ()
        self._cache: OrderedDict[date, DayData] = OrderedDict()
        self._lock = threading.Lock()
        self._build_queues()

    # --- queues -------------------------------------------------------------------------------------

    def _build_queues(self) -> None:
        cfg = self.config
        n = cfg.queue_count
        idx = np.arange(n, dtype=np.int64)
        keys = _key(cfg.seed, 1, idx) if n else np.zeros(0, dtype=np.uint64)
        self.volume = np.clip(np.exp(0.35 * _normal(keys, 1)), 0.4, 2.5) if n else np.zeros(0)
        self.p_answer = 0.78 + 0.17 * _uniform(keys, 2) if n else np.zeros(0)
        self.mean_wait_s = 10.0 + 70.0 * _uniform(keys, 3) if n else np.zeros(0)
        has = np.zeros((n, len(MEDIA_TYPES)), dtype=bool)
        sl_target = np.zeros((n, len(MEDIA_TYPES)))
        sl_ms = np.zeros((n, len(MEDIA_TYPES)), dtype=np.int64)
        for m in range(len(MEDIA_TYPES)):
            if n == 0:
                break
            has[:, m] = _uniform(keys, 10 + m) < _HAS_MEDIA[m]
            pick_pct = (_uniform(keys, 20 + m) * len(_SL_PERCENTAGES)).astype(int)
            sl_target[:, m] = np.array(_SL_PERCENTAGES)[pick_pct]
            choices = _SL_SECONDS[m]
            pick_s = (_uniform(keys, 30 + m) * len(choices)).astype(int)
            sl_ms[:, m] = np.array(choices, dtype=np.int64)[pick_s] * 1000
        self.has_media = has
        self.sl_target = sl_target
        self.sl_ms = sl_ms

        # Queues created inside the range: the ones with the smallest hash, never queue 0.
        span_days = (cfg.end_date - cfg.start_date).days
        new_count = round(cfg.new_queue_share * n) if span_days >= 2 else 0
        if cfg.new_queue_share > 0 and n >= 3 and span_days >= 2:
            new_count = max(new_count, 1)
        order = np.argsort(_uniform(keys, 40)[1:], kind="stable") + 1 if n > 1 else np.zeros(0, dtype=int)
        new_queues = set(order[:new_count].tolist())
        created: list[datetime] = []
        created_ms = np.zeros(n, dtype=np.int64)
        u_day, u_minute = _uniform(keys, 41), _uniform(keys, 42)
        for i in range(n):
            if i in new_queues:
                offset = 1 + int(u_day[i] * (span_days - 1))
                day = cfg.start_date + timedelta(days=offset)
                minute = 8 * 60 + int(u_minute[i] * 9 * 60)
            else:
                day = cfg.start_date - timedelta(days=60 + int(u_day[i] * 900))
                minute = 8 * 60 + int(u_minute[i] * 9 * 60)
            start_ms, _ = day_bounds_ms(day, cfg.timezone)
            created_ms[i] = start_ms + minute * 60_000
            created.append(datetime.fromtimestamp(created_ms[i] / 1000, tz=UTC))
        self.created_ms = created_ms

        quiet = np.zeros(n, dtype=bool)
        ids = [_uuid("genesys-sandbox", cfg.seed, "queue", i) for i in range(n)]
        id_index = {qid: i for i, qid in enumerate(ids)}
        for item in cfg.quiet_queues:
            if isinstance(item, int) and 0 <= item < n:
                quiet[item] = True
            elif isinstance(item, str) and item in id_index:
                quiet[id_index[item]] = True
        self.quiet = quiet

        division_ids = [_uuid("genesys-sandbox", cfg.seed, "division", d) for d in range(len(_DIVISIONS))]
        pick_div = (_uniform(keys, 50) * len(_DIVISIONS)).astype(int) if n else []
        pick_dept = (_uniform(keys, 51) * len(_DEPARTMENTS)).astype(int) if n else []
        pick_lang = (_uniform(keys, 52) * len(_LANGUAGES)).astype(int) if n else []
        queues = []
        for i in range(n):
            media = tuple(m for j, m in enumerate(MEDIA_TYPES) if has[i, j])
            queues.append(
                SandboxQueue(
                    index=i,
                    id=ids[i],
                    name=f"{_DEPARTMENTS[pick_dept[i]]} {_LANGUAGES[pick_lang[i]]} {i + 1:03d}",
                    division_id=division_ids[pick_div[i]],
                    division_name=_DIVISIONS[pick_div[i]],
                    media_types=media,
                    service_levels={
                        m: (float(sl_target[i, j]), int(sl_ms[i, j]))
                        for j, m in enumerate(MEDIA_TYPES)
                        if has[i, j]
                    },
                    date_created=created[i],
                    quiet=bool(quiet[i]),
                )
            )
        self.queues = tuple(queues)
        self.queue_index = id_index

    def queue_settings_json(self, queue: SandboxQueue) -> dict[str, object]:
        """The queue as `GET /api/v2/routing/queues` returns it (a `Queue` entity)."""
        scale = self.config.sl_percentage_scale
        created = _iso(queue.date_created)
        media_settings: dict[str, object] = {}
        for media in queue.media_types:
            target, threshold = queue.service_levels[media]
            media_settings[SETTINGS_NAME[media]] = {
                "alertingTimeoutSeconds": _ALERT_TIMEOUT_S[MEDIA_INDEX[media]],
                "enableAutoAnswer": False,
                "serviceLevel": {"percentage": round(target * scale, 4), "durationMs": threshold},
            }
        return {
            "id": queue.id,
            "name": queue.name,
            "division": {
                "id": queue.division_id,
                "name": queue.division_name,
                "selfUri": f"/api/v2/authorization/divisions/{queue.division_id}",
            },
            "description": f"Sandbox queue {queue.name}",
            "dateCreated": created,
            "dateModified": created,
            "modifiedBy": "sandbox",
            "createdBy": "sandbox",
            "memberCount": 5 + queue.index % 20,
            "userMemberCount": 5 + queue.index % 20,
            "joinedMemberCount": 3 + queue.index % 15,
            "mediaSettings": media_settings,
            "acwSettings": {"wrapupPrompt": "OPTIONAL", "timeoutMs": 30000},
            "skillEvaluationMethod": "BEST",
            "scoringMethod": "TimestampAndPriority",
            "autoAnswerOnly": False,
            "enableTranscription": False,
            "enableManualAssignment": False,
            "selfUri": f"/api/v2/routing/queues/{queue.id}",
        }

    # --- conversations ------------------------------------------------------------------------------

    def day(self, day: date) -> DayData:
        """The conversations offered on a local day (cached)."""
        with self._lock:
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
        data = self._generate(day)
        with self._lock:
            self._cache[day] = data
            self._cache.move_to_end(day)
            while len(self._cache) > self.config.cache_days:
                self._cache.popitem(last=False)
        return data

    def days(self, first: date, last: date) -> DayData:
        """Conversations offered on local days first..last (inclusive), clipped to the configured range."""
        first = max(first, self.config.start_date)
        last = min(last, self.config.end_date)
        parts = []
        day = first
        while day <= last:
            parts.append(self.day(day))
            day += timedelta(days=1)
        return DayData.concat(parts)

    def cached_days(self) -> int:
        with self._lock:
            return len(self._cache)

    def _generate(self, day: date) -> DayData:
        cfg = self.config
        if day < cfg.start_date or day > cfg.end_date or day in cfg.quiet_days or cfg.queue_count == 0:
            return DayData.empty()
        midnight, next_midnight = day_bounds_ms(day, cfg.timezone)
        day_len = next_midnight - midnight
        active = self.has_media & ~self.quiet[:, None] & (self.created_ms[:, None] < next_midnight)
        qi, mi = np.nonzero(active)
        if qi.size == 0:
            return DayData.empty()
        salt = cfg.restated_days.get(day, 0)
        ordinal = day.toordinal()
        gkeys = _key(cfg.seed, 2, salt, ordinal, qi, mi)

        season = 1.0 + 0.1 * np.sin(2 * np.pi * (ordinal % 365) / 365.0)
        mean = (
            cfg.conversations_per_queue_day
            * self.volume[qi]
            * _VOLUME_SHARE[mi]
            * _WEEKDAY_FACTOR[day.weekday()]
            * season
        )
        counts = np.floor(mean * np.exp(0.2 * _normal(gkeys, 1) - 0.02) + _uniform(gkeys, 2)).astype(np.int64)
        counts = np.maximum(counts, 0)
        total = int(counts.sum())
        if total == 0:
            return DayData.empty()
        group = np.repeat(np.arange(qi.size), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        conv = np.arange(total, dtype=np.int64) - starts
        keys = _mix(gkeys[group] ^ (conv.astype(np.uint64) * _GOLDEN + np.uint64(1)))
        q = qi[group].astype(np.int32)
        m = mi[group].astype(np.int8)

        # Offer time: a two-peak daily curve plus a flat share in local wall-clock time, mapped to the
        # elapsed time since local midnight (DST days: 23 or 25 hours).
        pick = _uniform(keys, 3)
        z = _normal(keys, 4)
        hours = np.where(pick < 0.5, 10.5 + 1.8 * z, 14.75 + 2.2 * z)
        hours = np.where(pick > 0.92, _uniform(keys, 5) * 24.0, hours)
        wall = np.mod((hours * 3600_000).astype(np.int64), 86_400_000)
        offered = midnight + _wall_to_elapsed(wall, day, cfg.timezone, day_len, _uniform(keys, 15))

        u_out = _uniform(keys, 6)
        p_ans = self.p_answer[q]
        answered = u_out < p_ans
        abandoned = ~answered & (_uniform(keys, 7) < _ABANDON_SHARE[m])
        outcome = np.where(
            answered, OUTCOME_ANSWERED, np.where(abandoned, OUTCOME_ABANDONED, OUTCOME_FLOW_OUT)
        )

        mean_wait_ms = self.mean_wait_s[q] * _WAIT_FACTOR[m] * 1000.0
        wait_ans = _exponential(keys, 8, mean_wait_ms)
        wait_abn = 1000.0 + _exponential(keys, 9, 0.8 * mean_wait_ms + 20_000.0)
        wait_flow = 10_000.0 + _exponential(keys, 10, mean_wait_ms + 60_000.0)
        wait = np.where(answered, wait_ans, np.where(abandoned, wait_abn, wait_flow))
        wait = np.minimum(wait, _MAX_WAIT_MS).astype(np.int64)

        talk = _TALK_MEDIAN_S[m] * 1000.0 * np.exp(0.6 * _normal(keys, 11))
        talk = np.clip(talk, 5_000, _MAX_TALK_MS).astype(np.int64)
        has_hold = _uniform(keys, 12) < _HOLD_CHANCE[m]
        hold = np.where(has_hold, 2_000.0 + _exponential(keys, 13, 45_000.0), 0.0)
        hold = np.minimum(hold, _MAX_HOLD_MS).astype(np.int64)
        acw = np.clip(45_000.0 * np.exp(0.7 * _normal(keys, 14)), 1_000, _MAX_ACW_MS).astype(np.int64)
        zero = np.zeros(total, dtype=np.int64)
        talk = np.where(answered, talk, zero)
        hold = np.where(answered, hold, zero)
        acw = np.where(answered, acw, zero)

        wait_end = offered + wait
        hold_end = wait_end + talk // 2 + hold
        talk_end = wait_end + talk + hold
        acw_end = talk_end + acw
        over_sla = answered & (wait > self.sl_ms[q, m])

        keep = offered >= self.created_ms[q]
        if day + timedelta(days=1) in cfg.quiet_days:
            last_event = np.where(answered, acw_end, wait_end)
            keep &= last_event < next_midnight
        order = np.argsort(offered[keep], kind="stable")

        def sel(a: np.ndarray) -> np.ndarray:
            return a[keep][order]

        return DayData(
            queue=sel(q),
            media=sel(m),
            outcome=sel(outcome.astype(np.int8)),
            over_sla=sel(over_sla),
            offered=sel(offered),
            wait_end=sel(wait_end),
            hold_end=sel(hold_end),
            talk_end=sel(talk_end),
            acw_end=sel(acw_end),
            wait=sel(wait),
            talk=sel(talk),
            hold=sel(hold),
            acw=sel(acw),
        )


def _transition_ms(day: date, timezone: str) -> int:
    """Elapsed ms from local midnight to the day's UTC-offset change (searched in 15-minute steps)."""
    start_ms, _ = day_bounds_ms(day, timezone)
    tz = ZoneInfo(timezone)

    def offset(ms: int) -> timedelta | None:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz).utcoffset()

    first = offset(start_ms)
    for step in range(1, 26 * 4):
        if offset(start_ms + step * 900_000) != first:
            return step * 900_000
    return 0


def _wall_to_elapsed(
    wall: np.ndarray, day: date, timezone: str, day_len: int, coin: np.ndarray
) -> np.ndarray:
    """Map local wall-clock ms of a day to elapsed ms since local midnight.

    Wall times skipped by a spring-forward land at the change; repeated wall times of a fall-back go
    to either occurrence (by ``coin``), so every hour of a 25-hour day has traffic.
    """
    delta = 86_400_000 - day_len  # > 0: the clocks jump forward; < 0: they fall back
    if delta == 0:
        return wall
    change = _transition_ms(day, timezone)
    if delta > 0:
        return np.where(wall < change, wall, np.maximum(change, wall - delta))
    repeated = (wall >= change + delta) & (wall < change)
    return np.where(wall >= change, wall - delta, np.where(repeated & (coin < 0.5), wall - delta, wall))


def _iso(instant: datetime) -> str:
    """UTC instant as Genesys writes it: 2026-01-01T09:30:00.000Z."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as a Genesys UTC instant string."""
    return _iso(datetime.fromtimestamp(epoch_ms / 1000, tz=UTC))
