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
* ``hold_end``: end of hold (tHeldComplete), ``talk_end``: end of talk (tTalkComplete, and the transfer
  of a transferred conversation: nTransferred, nBlindTransferred, nConsultTransferred);
* ``acw_end``: end of after-call work (tAcw, tHandle);
* ``nr_end``: end of each not-responding alert (tAlert, tNotResponding).

Inbound conversations enter a queue (offered), wait, and are answered, abandoned or flow out:

* **Alerts.** While a conversation waits, agents are alerted. An agent who does not respond within the
  channel's alerting timeout (the queue's ``mediaSettings.<media>.alertingTimeoutSeconds``,
  `_ALERT_TIMEOUT_S`) is set Not Responding and the conversation returns to the queue; each such alert
  lasts the whole timeout and is a ``tAlert`` and a ``tNotResponding`` entry landing at its end. The
  alert that is answered rings briefly (``ring``) and ends at the answer: a ``tAlert`` entry only. Alerts
  fall inside the queue wait (the wait is at least the ring, the not-responding alerts are spread over the
  rest of it and capped at `MAX_NOT_RESPONDING`), so abandoned and flowed-out conversations can also have
  had not-responding alerts. Outbound calls and co-browse sessions never alert.
* **Abandons.** ``tAbandon`` counts at the disconnect; an abandon whose wait is under the org's
  short-abandon threshold (config ``short_abandon_threshold_s``; unconfirmed whether Genesys compares with
  < or <=: chosen <) is also a ``tShortAbandon`` entry, at the same instant with the same value. The
  threshold is applied when answering, so changing it is retroactive. Email and web messaging never count
  an abandon: an unanswered email or message flows out (web messaging: Resource Center; email: no source
  says, public answers never show ``tAbandon`` on email rows).
* **Transfers.** A share of the answered conversations is transferred by the answering agent, blind or
  after a consult; the transfer is counted when it happens, at the end of the agent's talk (unconfirmed:
  chosen). ``nTransferred`` = ``nBlindTransferred`` + ``nConsultTransferred``. The transferred-to party
  is outside the sandbox's queues.
* **Connected** (``nConnected``, undefined by Genesys; unconfirmed: chosen): interactions that connected to
  an agent, at the connect instant: inbound answers (``wait_end``), outbound calls that reached an agent
  (``wait_end``) and co-browse sessions (their start).
* **Co-browse.** A share of the answered chats starts a co-browse session during the chat. It is reported
  in its own ``mediaType: "cobrowse"`` group of the same queue (direction inbound), as secondary media are,
  and carries only ``nOffered``, ``nConnected`` and ``nCobrowseSessions``, each at the session start
  (unconfirmed: chosen; a real org's cobrowse group held ``nCobrowseSessions`` and ``oServiceTarget``).
  Sessions are rows of their own (media `MEDIA_COBROWSE`, outcome `OUTCOME_SESSION`), so they never count
  into the chat's figures. Their ``talk_end``/``acw_end`` is the session end.

Outbound conversations are dial attempts placed on behalf of a queue (only some queues have them), in
business hours on weekdays; ``offered`` is when dialing starts (``nOutboundAttempted``). An attempt is
connected (the party answers and reaches an agent: ``nOutboundConnected`` and ``nConnected`` at
``wait_end``), abandoned (the party answers but the call is dropped before an agent, as a dialer abandons
a call: ``nOutboundAbandoned`` at the drop, ``wait_end``, two seconds after the answer) or not answered (no
metric but the attempt; ``wait_end`` is when the dialer gives up). Outcomes and timing are unconfirmed
(the attempt metrics are documented for dialer campaigns only): chosen. Only connected calls have agent work
(talk, hold, after-call work and handle, whose time includes the dialing and contacting, ``dialing``), and
only they count in ``nOutbound`` (outbound interactions of the queue's agents), at dial start as before, so
``nOutbound`` equals ``tHandle.count`` of outbound work over a period, as public answers show. Outbound
conversations are never offered, answered or abandoned in the queue.

A conversation offered late in the evening can be answered or handled after local midnight, so its
metrics land on two days; durations are capped so nothing spills past the next day.

A queue serves one to three channels (voice most often), but its settings carry all five media blocks, as
every real queue's do: the channels it serves come from traffic only.
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

# Per media type (MEDIA_TYPES order): weight when a queue's channels are drawn, volume share of the voice
# volume, wait multiplier, median talk seconds, chance of hold, abandon share of unanswered conversations
# (none for email and web messaging, where an unanswered conversation is not an abandon), service-level threshold
# choices (seconds), alerting timeout seconds.
_MEDIA_WEIGHT = np.array([0.45, 0.15, 0.2, 0.12, 0.08])
_VOLUME_SHARE = np.array([1.0, 0.15, 0.4, 0.25, 0.3])
_WAIT_FACTOR = np.array([1.0, 3.0, 0.8, 40.0, 2.0])
_TALK_MEDIAN_S = np.array([240.0, 210.0, 480.0, 360.0, 600.0])
_HOLD_CHANCE = np.array([0.3, 0.25, 0.0, 0.0, 0.0])
_ABANDON_SHARE = np.array([0.7, 0.3, 0.8, 0.0, 0.0])
_SL_SECONDS: Final[tuple[tuple[int, ...], ...]] = (
    (15, 20, 20, 30, 45),
    (1800, 3600),
    (30, 60, 90),
    (14400, 28800),
    (300, 600),
)
_ALERT_TIMEOUT_S: Final[tuple[int, ...]] = (8, 30, 30, 300, 60)
_SL_PERCENTAGES: Final[tuple[float, ...]] = (0.7, 0.75, 0.8, 0.85, 0.9)
# The settings block every queue carries for a channel it does not serve: Genesys's defaults (an email
# threshold of 24 hours; 80% within 20 s otherwise).
_DEFAULT_SERVICE_LEVEL: Final[tuple[tuple[float, int], ...]] = (
    (0.8, 20_000),
    (0.8, 20_000),
    (0.8, 20_000),
    (0.8, 86_400_000),
    (0.8, 20_000),
)
# Channels a queue serves: 1, 2 or 3, with these chances.
_CHANNEL_COUNT_CHANCE = np.array([0.4, 0.35, 0.25])
_WEEKDAY_FACTOR = np.array([1.1, 1.0, 1.0, 0.95, 0.9, 0.45, 0.3])
# Outbound voice work of a queue that has it: conversations per inbound voice conversation, dialing and
# contacting time until the party answers.
_OUTBOUND_PER_INBOUND = 0.3
_DIAL_MEAN_MS = 12_000.0
# Dial attempts that do not reach an agent, per connected call, and the abandoned share of them.
_UNCONNECTED_PER_CONNECTED = 1.1
_OUTBOUND_ABANDON_SHARE = 0.05
_DIALER_ABANDON_MS = 2_000
# Per media type (MEDIA_TYPES order): chance that an alerted agent does not respond, chance that the
# answering agent transfers the conversation; consult share of transfers; chance that an answered chat
# starts a co-browse session, and the session's mean length.
_NOT_RESPONDING_CHANCE = np.array([0.08, 0.1, 0.12, 0.06, 0.1])
_TRANSFER_CHANCE = np.array([0.12, 0.08, 0.06, 0.04, 0.05])
_CONSULT_SHARE = 0.35
_COBROWSE_CHANCE = 0.15
_COBROWSE_MEAN_MS = 240_000.0
MAX_NOT_RESPONDING: Final = 3

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

# Media types of conversation rows: the five primary channels and co-browse, secondary media riding on a chat.
ANALYTICS_MEDIA_TYPES: Final[tuple[str, ...]] = (*MEDIA_TYPES, "cobrowse")
ANALYTICS_MEDIA_INDEX: Final[dict[str, int]] = {m: i for i, m in enumerate(ANALYTICS_MEDIA_TYPES)}
MEDIA_COBROWSE: Final = ANALYTICS_MEDIA_INDEX["cobrowse"]

OUTCOME_ANSWERED: Final = 0  # inbound: answered; outbound: connected to an agent
OUTCOME_ABANDONED: Final = 1  # inbound: abandoned in queue; outbound: the dialer dropped the answered call
OUTCOME_FLOW_OUT: Final = 2
OUTCOME_SESSION: Final = 3  # a co-browse session
OUTCOME_NO_ANSWER: Final = 4  # an outbound attempt the party did not answer
TRANSFER_NONE: Final = 0
TRANSFER_BLIND: Final = 1
TRANSFER_CONSULT: Final = 2
DIRECTIONS: Final[tuple[str, ...]] = ("inbound", "outbound")
DIRECTION_INBOUND: Final = 0
DIRECTION_OUTBOUND: Final = 1

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


def _uniforms(keys: np.ndarray, field_id: int, count: int) -> list[np.ndarray]:
    """``count`` (at most 3) independent uniform [0, 1) numbers per key from one hash, each from its own 21
    bits: cheaper than one hash per number, with a resolution of 2**-21."""
    salt = np.uint64((field_id * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64)
    h = _mix(keys ^ salt)
    mask = np.uint64((1 << 21) - 1)
    return [((h >> np.uint64(21 * i)) & mask).astype(np.float64) * (2.0**-21) for i in range(count)]


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


def alert_timeout_ms(media: np.ndarray) -> np.ndarray:
    """The alerting timeout (ms) of each row's media type (ANALYTICS_MEDIA_TYPES); 0 for co-browse, which
    never alerts."""
    return np.array((*_ALERT_TIMEOUT_S, 0), dtype=np.int64)[media] * 1000


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def day_bounds_ms(day: date, timezone: str) -> tuple[int, int]:
    """Half-open [start, end) of a local day in UTC epoch milliseconds."""
    start, end = day_bounds(day, timezone)
    return _ms(start), _ms(end)


@dataclass(frozen=True)
class SandboxQueue:
    """One queue of the sandbox org, with the parameters that drive its conversations.

    ``media_types`` are the channels it has traffic on; ``service_levels`` maps each of the five analytics
    media types to (target fraction 0..1, threshold ms): its own for the channels it serves, Genesys's
    defaults for the rest. ``outbound`` queues also place outbound voice calls.
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
    outbound: bool


@dataclass(frozen=True)
class DayData:
    """Column arrays of the conversations offered on one or more local days (one row per conversation)."""

    queue: np.ndarray  # int32 queue index
    media: np.ndarray  # int8 media index (ANALYTICS_MEDIA_TYPES)
    direction: np.ndarray  # int8 DIRECTION_INBOUND or DIRECTION_OUTBOUND
    outcome: np.ndarray  # int8 OUTCOME_*
    transfer: np.ndarray  # int8 TRANSFER_*: how the answering agent transferred it, if at all
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
    dialing: np.ndarray  # dialing and contacting of an outbound call; 0 inbound
    ring: np.ndarray  # int64 ms the answered alert rang (ends at wait_end); 0 when not answered in queue
    not_responding: np.ndarray  # int8 not-responding alerts (0..MAX_NOT_RESPONDING), each one timeout long
    nr_end: np.ndarray  # int64 [rows, MAX_NOT_RESPONDING] epoch ms each such alert ended; 0 past the count

    @property
    def handle(self) -> np.ndarray:
        return self.dialing + self.talk + self.hold + self.acw

    def __len__(self) -> int:
        return int(self.queue.shape[0])

    @staticmethod
    def empty() -> DayData:
        i64 = np.zeros(0, dtype=np.int64)
        return DayData(
            queue=np.zeros(0, dtype=np.int32),
            media=np.zeros(0, dtype=np.int8),
            direction=np.zeros(0, dtype=np.int8),
            outcome=np.zeros(0, dtype=np.int8),
            transfer=np.zeros(0, dtype=np.int8),
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
            dialing=i64,
            ring=i64,
            not_responding=np.zeros(0, dtype=np.int8),
            nr_end=np.zeros((0, MAX_NOT_RESPONDING), dtype=np.int64),
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


def _traffic_channels(keys: np.ndarray, n: int) -> np.ndarray:
    """bool [queues, media types]: the one to three channels each queue serves, queue 0 always voice.

    The channel count is drawn with `_CHANNEL_COUNT_CHANCE`; the channels by `_MEDIA_WEIGHT` (Gumbel-top-k
    over hashed uniforms, so it is deterministic and independent of the queue count).
    """
    has = np.zeros((n, len(MEDIA_TYPES)), dtype=bool)
    if n == 0:
        return has
    count = 1 + np.searchsorted(np.cumsum(_CHANNEL_COUNT_CHANCE), _uniform(keys, 10), side="right")
    scores = np.stack(
        [
            np.log(_MEDIA_WEIGHT[m]) - np.log(-np.log(1.0 - _uniform(keys, 11 + m)))
            for m in range(len(MEDIA_TYPES))
        ],
        axis=1,
    )
    scores[0, MEDIA_INDEX["voice"]] = np.inf
    ranks = np.argsort(np.argsort(-scores, axis=1), axis=1)
    return ranks < np.minimum(count, len(MEDIA_TYPES))[:, None]


class SandboxOrg:
    """Queues and per-day conversations of one data configuration, with an LRU cache of generated days.

    Thread-safe: generation happens outside the lock, so two threads may build the same day once each;
    both results are identical.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.timezone = config.timezone
        self.queues: tuple[SandboxQueue, ...] = ()
        self._cache: OrderedDict[tuple[date, int], DayData] = OrderedDict()
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
        has = _traffic_channels(keys, n)
        sl_target = np.tile([target for target, _ in _DEFAULT_SERVICE_LEVEL], (n, 1)).astype(float)
        sl_ms = np.tile([ms for _, ms in _DEFAULT_SERVICE_LEVEL], (n, 1)).astype(np.int64)
        for m in range(len(MEDIA_TYPES)):
            if n == 0:
                break
            pick_pct = (_uniform(keys, 20 + m) * len(_SL_PERCENTAGES)).astype(int)
            choices = _SL_SECONDS[m]
            pick_s = (_uniform(keys, 30 + m) * len(choices)).astype(int)
            served = has[:, m]
            sl_target[served, m] = np.array(_SL_PERCENTAGES)[pick_pct][served]
            sl_ms[served, m] = (np.array(choices, dtype=np.int64)[pick_s] * 1000)[served]
        self.has_media = has
        self.sl_target = sl_target
        self.sl_ms = sl_ms
        # Outbound voice work on a share of the queues that serve voice (at least one when the share is not 0;
        # never queue 0): the eligible queues with the smallest hash.
        eligible = np.flatnonzero(has[:, MEDIA_INDEX["voice"]] & (idx > 0)) if n else np.zeros(0, dtype=int)
        picked = round(cfg.outbound_queue_share * eligible.size)
        if cfg.outbound_queue_share > 0 and eligible.size:
            picked = max(picked, 1)
        self.outbound = np.zeros(n, dtype=bool)
        self.outbound[eligible[np.argsort(_uniform(keys, 60)[eligible], kind="stable")[:picked]]] = True

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
                        m: (float(sl_target[i, j]), int(sl_ms[i, j])) for j, m in enumerate(MEDIA_TYPES)
                    },
                    date_created=created[i],
                    quiet=bool(quiet[i]),
                    outbound=bool(self.outbound[i]),
                )
            )
        self.queues = tuple(queues)
        self.queue_index = id_index

    def queue_settings_json(self, queue: SandboxQueue) -> dict[str, object]:
        """The queue as `GET /api/v2/routing/queues` returns it (a `Queue` entity)."""
        scale = self.config.sl_percentage_scale
        created = _iso(queue.date_created)
        media_settings: dict[str, object] = {}
        for media in MEDIA_TYPES:  # every block, whatever the queue serves, as real queues carry them
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
        """The conversations offered on a local day (cached per restatement in effect)."""
        key = (day, self.salt(day))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        data = self._generate(*key)
        with self._lock:
            self._cache[key] = data
            self._cache.move_to_end(key)
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

    def salt(self, day: date) -> int:
        """The restatement salt in effect for a day: its `restated_days` salt once that restatement is
        visible (`restatement_delay_days` after the day's end, on the config's clock), else 0."""
        cfg = self.config
        salt = cfg.restated_days.get(day, 0)
        if salt and cfg.restatement_delay_days:
            now = cfg.clock or datetime.now(UTC)
            visible_from = day_bounds_ms(day, cfg.timezone)[1] + cfg.restatement_delay_days * 86_400_000
            if now.timestamp() * 1000 < visible_from:
                return 0
        return salt

    def _generate(self, day: date, salt: int) -> DayData:
        cfg = self.config
        if day < cfg.start_date or day > cfg.end_date or day in cfg.quiet_days or cfg.queue_count == 0:
            return DayData.empty()
        midnight, next_midnight = day_bounds_ms(day, cfg.timezone)
        parts = [
            *self._inbound(day, salt, midnight, next_midnight),
            self._outbound(day, salt, midnight, next_midnight),
            self._outbound_unconnected(day, salt, midnight, next_midnight),
        ]
        data = DayData.concat([part for part in parts if part is not None])
        if len(data) == 0:
            return data
        keep = data.offered >= self.created_ms[data.queue]
        if day + timedelta(days=1) in cfg.quiet_days:
            worked = (data.outcome == OUTCOME_ANSWERED) | (data.outcome == OUTCOME_SESSION)
            last_event = np.where(worked, data.acw_end, data.wait_end)
            keep &= last_event < next_midnight
        kept = np.flatnonzero(keep)
        rows = kept[np.argsort(data.offered[kept], kind="stable")]
        return DayData(
            **{name: np.take(getattr(data, name), rows, axis=0) for name in DayData.__dataclass_fields__}
        )

    def _wall_offers(
        self, keys: np.ndarray, day: date, midnight: int, next_midnight: int, hours: np.ndarray
    ) -> np.ndarray:
        """Instants (epoch ms) of local wall-clock hours of the day (DST days: 23 or 25 hours)."""
        wall = np.mod((hours * 3600_000).astype(np.int64), 86_400_000)
        return midnight + _wall_to_elapsed(
            wall, day, self.timezone, next_midnight - midnight, _uniform(keys, 15)
        )

    def _inbound(self, day: date, salt: int, midnight: int, next_midnight: int) -> tuple[DayData, ...]:
        """The conversations offered to the queues on a local day, and the co-browse sessions on their chats."""
        cfg = self.config
        active = self.has_media & ~self.quiet[:, None] & (self.created_ms[:, None] < next_midnight)
        qi, mi = np.nonzero(active)
        if qi.size == 0:
            return ()
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
        keys, group = _conversations(gkeys, mean)
        if keys.size == 0:
            return ()
        total = keys.size
        q = qi[group].astype(np.int32)
        m = mi[group].astype(np.int8)

        # Offer time: a two-peak daily curve plus a flat share in local wall-clock time.
        pick = _uniform(keys, 3)
        z = _normal(keys, 4)
        hours = np.where(pick < 0.5, 10.5 + 1.8 * z, 14.75 + 2.2 * z)
        hours = np.where(pick > 0.92, _uniform(keys, 5) * 24.0, hours)
        offered = self._wall_offers(keys, day, midnight, next_midnight, hours)

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
        # The answered alert rings briefly, well under the alerting timeout, and ends at the answer.
        timeout = np.array(_ALERT_TIMEOUT_S, dtype=np.int64)[m] * 1000
        ring_cap = np.minimum(0.6 * timeout, 20_000.0)
        u_ring, u_alert, u_transfer = _uniforms(keys, 16, 3)
        ring = np.where(answered, 1_000.0 + u_ring * (ring_cap - 1_000.0), 0.0).astype(np.int64)
        wait = np.maximum(wait, ring)
        not_responding, nr_end = _not_responding(u_alert, m, offered, wait, ring, timeout)
        # Transferred below the channel's chance; the lowest share of those after a consult.
        chance = _TRANSFER_CHANCE[m]
        transfer = np.where(
            answered & (u_transfer < chance),
            np.where(u_transfer < chance * _CONSULT_SHARE, TRANSFER_CONSULT, TRANSFER_BLIND),
            TRANSFER_NONE,
        )
        talk, hold, acw = _work(keys, m, answered)
        conversations = _timeline(
            q,
            m,
            DIRECTION_INBOUND,
            outcome,
            answered & (wait > self.sl_ms[q, m]),
            offered,
            wait,
            talk,
            hold,
            acw,
            np.zeros(total, dtype=np.int64),
            ring=ring,
            not_responding=not_responding,
            nr_end=nr_end,
            transfer=transfer,
        )
        return conversations, _cobrowse_sessions(keys, conversations)

    def _outbound(self, day: date, salt: int, midnight: int, next_midnight: int) -> DayData | None:
        """Outbound voice calls placed on behalf of the queues that have them, in business hours."""
        cfg = self.config
        voice = MEDIA_INDEX["voice"]
        qi = np.flatnonzero(self.outbound & ~self.quiet & (self.created_ms < next_midnight))
        if qi.size == 0 or day.weekday() >= 5:
            return None
        ordinal = day.toordinal()
        gkeys = _key(cfg.seed, 3, salt, ordinal, qi)
        mean = cfg.conversations_per_queue_day * self.volume[qi] * _OUTBOUND_PER_INBOUND
        keys, group = _conversations(gkeys, mean)
        if keys.size == 0:
            return None
        total = keys.size
        q = qi[group].astype(np.int32)
        m = np.full(total, voice, dtype=np.int8)
        offered = self._wall_offers(keys, day, midnight, next_midnight, 9.0 + 8.0 * _uniform(keys, 3))
        dialing = np.minimum(3_000.0 + _exponential(keys, 8, _DIAL_MEAN_MS), 120_000.0).astype(np.int64)
        talk, hold, acw = _work(keys, m, np.ones(total, dtype=bool))
        return _timeline(
            q,
            m,
            DIRECTION_OUTBOUND,
            np.full(total, OUTCOME_ANSWERED),
            np.zeros(total, dtype=bool),
            offered,
            dialing,
            talk,
            hold,
            acw,
            dialing,
        )

    def _outbound_unconnected(
        self, day: date, salt: int, midnight: int, next_midnight: int
    ) -> DayData | None:
        """Dial attempts of the outbound queues that never reach an agent: not answered, or answered and
        dropped by the dialer before an agent was free. Drawn from their own hash stream, so the connected
        calls (`_outbound`) keep their numbers."""
        cfg = self.config
        qi = np.flatnonzero(self.outbound & ~self.quiet & (self.created_ms < next_midnight))
        if qi.size == 0 or day.weekday() >= 5:
            return None
        ordinal = day.toordinal()
        gkeys = _key(cfg.seed, 4, salt, ordinal, qi)
        mean = (
            cfg.conversations_per_queue_day
            * self.volume[qi]
            * _OUTBOUND_PER_INBOUND
            * _UNCONNECTED_PER_CONNECTED
        )
        keys, group = _conversations(gkeys, mean)
        if keys.size == 0:
            return None
        total = keys.size
        q = qi[group].astype(np.int32)
        m = np.full(total, MEDIA_INDEX["voice"], dtype=np.int8)
        offered = self._wall_offers(keys, day, midnight, next_midnight, 9.0 + 8.0 * _uniform(keys, 3))
        abandoned = _uniform(keys, 6) < _OUTBOUND_ABANDON_SHARE
        answered_after = np.minimum(3_000.0 + _exponential(keys, 8, _DIAL_MEAN_MS), 120_000.0)
        gave_up_after = 15_000.0 + 30_000.0 * _uniform(keys, 9)
        length = np.where(abandoned, answered_after + _DIALER_ABANDON_MS, gave_up_after).astype(np.int64)
        zero = np.zeros(total, dtype=np.int64)
        return _timeline(
            q,
            m,
            DIRECTION_OUTBOUND,
            np.where(abandoned, OUTCOME_ABANDONED, OUTCOME_NO_ANSWER),
            np.zeros(total, dtype=bool),
            offered,
            length,
            zero,
            zero,
            zero,
            zero,
        )


def _not_responding(
    u: np.ndarray,
    m: np.ndarray,
    offered: np.ndarray,
    wait: np.ndarray,
    ring: np.ndarray,
    timeout: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Not-responding alerts inside each queue wait: their count and end instants ([rows, MAX]).

    Each alerted agent fails to respond with the channel's chance (a geometric number of failures, drawn
    from the uniform numbers ``u``), capped
    by `MAX_NOT_RESPONDING` and by what fits in the wait before the answered ring. The alerts, each
    ``timeout`` long, are spread evenly over the rest of the wait, the time the conversation sat in queue
    between them.
    """
    chance = _NOT_RESPONDING_CHANCE[m]
    count = np.zeros(u.size, dtype=np.int8)
    ends = np.zeros((u.size, MAX_NOT_RESPONDING), dtype=np.int64)
    some = np.flatnonzero(
        u >= 1.0 - chance
    )  # at least one failure (geometric: floor(log(1-u) / log(p)) >= 1)
    if some.size == 0:
        return count, ends
    drawn = np.floor(np.log(1.0 - u[some]) / np.log(chance[some]))
    room = (wait[some] - ring[some]) // timeout[some]
    k = np.clip(np.minimum(drawn, room), 0, MAX_NOT_RESPONDING).astype(np.int64)
    free = wait[some] - ring[some] - k * timeout[some]
    j = np.arange(1, MAX_NOT_RESPONDING + 1, dtype=np.int64)[None, :]
    at = offered[some, None] + (j * free[:, None]) // (k[:, None] + 1) + j * timeout[some, None]
    count[some] = k
    ends[some] = np.where(j <= k[:, None], at, 0)
    return count, ends


def _cobrowse_sessions(keys: np.ndarray, chats: DayData) -> DayData:
    """Co-browse sessions started by a share of the answered chats, inside the chat's talk: rows of their
    own with media `MEDIA_COBROWSE` and outcome `OUTCOME_SESSION` (start in offered and wait_end, end in
    talk_end and acw_end)."""
    starts = np.flatnonzero((chats.media == MEDIA_INDEX["chat"]) & (chats.outcome == OUTCOME_ANSWERED))
    starts = starts[_uniform(keys[starts], 20) < _COBROWSE_CHANCE]
    if starts.size == 0:
        return DayData.empty()
    k = keys[starts]
    talk = chats.talk[starts]
    start = chats.wait_end[starts] + (0.5 * talk * _uniform(k, 21)).astype(np.int64)
    length = 30_000.0 + _exponential(k, 22, _COBROWSE_MEAN_MS)
    end = np.minimum(start + length.astype(np.int64), chats.wait_end[starts] + talk)
    n = starts.size
    zero = np.zeros(n, dtype=np.int64)
    return DayData(
        queue=chats.queue[starts],
        media=np.full(n, MEDIA_COBROWSE, dtype=np.int8),
        direction=np.full(n, DIRECTION_INBOUND, dtype=np.int8),
        outcome=np.full(n, OUTCOME_SESSION, dtype=np.int8),
        transfer=np.zeros(n, dtype=np.int8),
        over_sla=np.zeros(n, dtype=bool),
        offered=start,
        wait_end=start,
        hold_end=start,
        talk_end=end,
        acw_end=end,
        wait=zero,
        talk=end - start,
        hold=zero,
        acw=zero,
        dialing=zero,
        ring=zero,
        not_responding=np.zeros(n, dtype=np.int8),
        nr_end=np.zeros((n, MAX_NOT_RESPONDING), dtype=np.int64),
    )


def _conversations(gkeys: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group a count around `mean`; the hash key of every conversation and the index of its group."""
    counts = np.floor(mean * np.exp(0.2 * _normal(gkeys, 1) - 0.02) + _uniform(gkeys, 2)).astype(np.int64)
    counts = np.maximum(counts, 0)
    total = int(counts.sum())
    group = np.repeat(np.arange(gkeys.size), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    conv = np.arange(total, dtype=np.int64) - starts
    return _mix(gkeys[group] ^ (conv.astype(np.uint64) * _GOLDEN + np.uint64(1))), group


def _work(
    keys: np.ndarray, m: np.ndarray, connected: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Talk, hold and after-call work (ms) of each conversation; 0 where it was not connected to an agent."""
    talk = _TALK_MEDIAN_S[m] * 1000.0 * np.exp(0.6 * _normal(keys, 11))
    talk = np.clip(talk, 5_000, _MAX_TALK_MS).astype(np.int64)
    has_hold = _uniform(keys, 12) < _HOLD_CHANCE[m]
    hold = np.where(has_hold, 2_000.0 + _exponential(keys, 13, 45_000.0), 0.0)
    hold = np.minimum(hold, _MAX_HOLD_MS).astype(np.int64)
    acw = np.clip(45_000.0 * np.exp(0.7 * _normal(keys, 14)), 1_000, _MAX_ACW_MS).astype(np.int64)
    zero = np.zeros(keys.size, dtype=np.int64)
    return np.where(connected, talk, zero), np.where(connected, hold, zero), np.where(connected, acw, zero)


def _timeline(
    q: np.ndarray,
    m: np.ndarray,
    direction: int,
    outcome: np.ndarray,
    over_sla: np.ndarray,
    offered: np.ndarray,
    wait: np.ndarray,
    talk: np.ndarray,
    hold: np.ndarray,
    acw: np.ndarray,
    dialing: np.ndarray,
    *,
    ring: np.ndarray | None = None,
    not_responding: np.ndarray | None = None,
    nr_end: np.ndarray | None = None,
    transfer: np.ndarray | None = None,
) -> DayData:
    """The events of conversations from their start, wait (or dialing) and work; no alerts or transfers
    unless given."""
    wait_end = offered + wait
    talk_end = wait_end + talk + hold
    n = q.size
    return DayData(
        queue=q,
        media=m,
        direction=np.full(n, direction, dtype=np.int8),
        outcome=outcome.astype(np.int8),
        transfer=(np.zeros(n) if transfer is None else transfer).astype(np.int8),
        over_sla=over_sla,
        offered=offered,
        wait_end=wait_end,
        hold_end=wait_end + talk // 2 + hold,
        talk_end=talk_end,
        acw_end=talk_end + acw,
        wait=np.where(direction == DIRECTION_INBOUND, wait, 0).astype(np.int64),
        talk=talk,
        hold=hold,
        acw=acw,
        dialing=dialing.astype(np.int64),
        ring=np.zeros(n, dtype=np.int64) if ring is None else ring,
        not_responding=(np.zeros(n) if not_responding is None else not_responding).astype(np.int8),
        nr_end=np.zeros((n, MAX_NOT_RESPONDING), dtype=np.int64) if nr_end is None else nr_end,
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
