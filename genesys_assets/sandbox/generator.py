"""Deterministic synthetic conversations of the sandbox org (`SandboxOrg`), day by day.

Every random number is a counter-based hash (splitmix64, `randomness`) of the seed and the coordinates of
what it describes: a queue attribute hashes (seed, queue index, attribute); a conversation field hashes
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
  `ALERT_TIMEOUT_S`) is set Not Responding and the conversation returns to the queue; each such alert
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

The queues the conversations are offered to, and their settings, are `queues.QueueDirectory`, a base of
`SandboxOrg`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np

from genesys_assets.sandbox.config import SandboxConfig
from genesys_assets.sandbox.instants import day_bounds_ms, wall_to_elapsed
from genesys_assets.sandbox.queues import (
    ALERT_TIMEOUT_S,
    MEDIA_INDEX,
    MEDIA_TYPES,
    QueueDirectory,
    SandboxQueue,
)
from genesys_assets.sandbox.randomness import GOLDEN, exponential, hash_key, mix, normal, uniform, uniforms

# Per media type (MEDIA_TYPES order): volume share of the voice volume, wait multiplier, median talk seconds,
# chance of hold, abandon share of unanswered conversations (none for email and web messaging, where an
# unanswered conversation is not an abandon).
_VOLUME_SHARE = np.array([1.0, 0.15, 0.4, 0.25, 0.3])
_WAIT_FACTOR = np.array([1.0, 3.0, 0.8, 40.0, 2.0])
_TALK_MEDIAN_S = np.array([240.0, 210.0, 480.0, 360.0, 600.0])
_HOLD_CHANCE = np.array([0.3, 0.25, 0.0, 0.0, 0.0])
_ABANDON_SHARE = np.array([0.7, 0.3, 0.8, 0.0, 0.0])
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


class SandboxOrg(QueueDirectory):
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
        return midnight + wall_to_elapsed(
            wall, day, self.timezone, next_midnight - midnight, uniform(keys, 15)
        )

    def _inbound(self, day: date, salt: int, midnight: int, next_midnight: int) -> tuple[DayData, ...]:
        """The conversations offered to the queues on a local day, and the co-browse sessions on their chats."""
        cfg = self.config
        active = self.has_media & ~self.quiet[:, None] & (self.created_ms[:, None] < next_midnight)
        qi, mi = np.nonzero(active)
        if qi.size == 0:
            return ()
        ordinal = day.toordinal()
        gkeys = hash_key(cfg.seed, 2, salt, ordinal, qi, mi)
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
        pick = uniform(keys, 3)
        z = normal(keys, 4)
        hours = np.where(pick < 0.5, 10.5 + 1.8 * z, 14.75 + 2.2 * z)
        hours = np.where(pick > 0.92, uniform(keys, 5) * 24.0, hours)
        offered = self._wall_offers(keys, day, midnight, next_midnight, hours)

        u_out = uniform(keys, 6)
        p_ans = self.p_answer[q]
        answered = u_out < p_ans
        abandoned = ~answered & (uniform(keys, 7) < _ABANDON_SHARE[m])
        outcome = np.where(
            answered, OUTCOME_ANSWERED, np.where(abandoned, OUTCOME_ABANDONED, OUTCOME_FLOW_OUT)
        )

        mean_wait_ms = self.mean_wait_s[q] * _WAIT_FACTOR[m] * 1000.0
        wait_ans = exponential(keys, 8, mean_wait_ms)
        wait_abn = 1000.0 + exponential(keys, 9, 0.8 * mean_wait_ms + 20_000.0)
        wait_flow = 10_000.0 + exponential(keys, 10, mean_wait_ms + 60_000.0)
        wait = np.where(answered, wait_ans, np.where(abandoned, wait_abn, wait_flow))
        wait = np.minimum(wait, _MAX_WAIT_MS).astype(np.int64)
        # The answered alert rings briefly, well under the alerting timeout, and ends at the answer.
        timeout = np.array(ALERT_TIMEOUT_S, dtype=np.int64)[m] * 1000
        ring_cap = np.minimum(0.6 * timeout, 20_000.0)
        u_ring, u_alert, u_transfer = uniforms(keys, 16, 3)
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
        gkeys = hash_key(cfg.seed, 3, salt, ordinal, qi)
        mean = cfg.conversations_per_queue_day * self.volume[qi] * _OUTBOUND_PER_INBOUND
        keys, group = _conversations(gkeys, mean)
        if keys.size == 0:
            return None
        total = keys.size
        q = qi[group].astype(np.int32)
        m = np.full(total, voice, dtype=np.int8)
        offered = self._wall_offers(keys, day, midnight, next_midnight, 9.0 + 8.0 * uniform(keys, 3))
        dialing = np.minimum(3_000.0 + exponential(keys, 8, _DIAL_MEAN_MS), 120_000.0).astype(np.int64)
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
        gkeys = hash_key(cfg.seed, 4, salt, ordinal, qi)
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
        offered = self._wall_offers(keys, day, midnight, next_midnight, 9.0 + 8.0 * uniform(keys, 3))
        abandoned = uniform(keys, 6) < _OUTBOUND_ABANDON_SHARE
        answered_after = np.minimum(3_000.0 + exponential(keys, 8, _DIAL_MEAN_MS), 120_000.0)
        gave_up_after = 15_000.0 + 30_000.0 * uniform(keys, 9)
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
    starts = starts[uniform(keys[starts], 20) < _COBROWSE_CHANCE]
    if starts.size == 0:
        return DayData.empty()
    k = keys[starts]
    talk = chats.talk[starts]
    start = chats.wait_end[starts] + (0.5 * talk * uniform(k, 21)).astype(np.int64)
    length = 30_000.0 + exponential(k, 22, _COBROWSE_MEAN_MS)
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
    counts = np.floor(mean * np.exp(0.2 * normal(gkeys, 1) - 0.02) + uniform(gkeys, 2)).astype(np.int64)
    counts = np.maximum(counts, 0)
    total = int(counts.sum())
    group = np.repeat(np.arange(gkeys.size), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    conv = np.arange(total, dtype=np.int64) - starts
    return mix(gkeys[group] ^ (conv.astype(np.uint64) * GOLDEN + np.uint64(1))), group


def _work(
    keys: np.ndarray, m: np.ndarray, connected: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Talk, hold and after-call work (ms) of each conversation; 0 where it was not connected to an agent."""
    talk = _TALK_MEDIAN_S[m] * 1000.0 * np.exp(0.6 * normal(keys, 11))
    talk = np.clip(talk, 5_000, _MAX_TALK_MS).astype(np.int64)
    has_hold = uniform(keys, 12) < _HOLD_CHANCE[m]
    hold = np.where(has_hold, 2_000.0 + exponential(keys, 13, 45_000.0), 0.0)
    hold = np.minimum(hold, _MAX_HOLD_MS).astype(np.int64)
    acw = np.clip(45_000.0 * np.exp(0.7 * normal(keys, 14)), 1_000, _MAX_ACW_MS).astype(np.int64)
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
