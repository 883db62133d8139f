"""The queues of the sandbox org: their channels, service levels, creation dates, names and divisions.

A queue serves one to three channels (voice most often), but its settings carry all five media blocks, as
every real queue's do: the channels it serves come from traffic only. `QueueDirectory` (a base of
`generator.SandboxOrg`) draws every queue's attributes from the seed (`randomness`) and renders a queue as
the routing API returns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np

from genesys_assets.sandbox.config import SandboxConfig
from genesys_assets.sandbox.instants import day_bounds_ms, iso_instant
from genesys_assets.sandbox.randomness import hash_key, normal, stable_uuid, uniform

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

# Per media type (MEDIA_TYPES order): weight when a queue's channels are drawn, service-level threshold choices
# (seconds), alerting timeout seconds.
_MEDIA_WEIGHT = np.array([0.45, 0.15, 0.2, 0.12, 0.08])
_SL_SECONDS: Final[tuple[tuple[int, ...], ...]] = (
    (15, 20, 20, 30, 45),
    (1800, 3600),
    (30, 60, 90),
    (14400, 28800),
    (300, 600),
)
ALERT_TIMEOUT_S: Final[tuple[int, ...]] = (8, 30, 30, 300, 60)
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


def alert_timeout_ms(media: np.ndarray) -> np.ndarray:
    """The alerting timeout (ms) of each row's media type (ANALYTICS_MEDIA_TYPES); 0 for co-browse, which
    never alerts."""
    return np.array((*ALERT_TIMEOUT_S, 0), dtype=np.int64)[media] * 1000


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


def _traffic_channels(keys: np.ndarray, n: int) -> np.ndarray:
    """bool [queues, media types]: the one to three channels each queue serves, queue 0 always voice.

    The channel count is drawn with `_CHANNEL_COUNT_CHANCE`; the channels by `_MEDIA_WEIGHT` (Gumbel-top-k
    over hashed uniforms, so it is deterministic and independent of the queue count).
    """
    has = np.zeros((n, len(MEDIA_TYPES)), dtype=bool)
    if n == 0:
        return has
    count = 1 + np.searchsorted(np.cumsum(_CHANNEL_COUNT_CHANCE), uniform(keys, 10), side="right")
    scores = np.stack(
        [
            np.log(_MEDIA_WEIGHT[m]) - np.log(-np.log(1.0 - uniform(keys, 11 + m)))
            for m in range(len(MEDIA_TYPES))
        ],
        axis=1,
    )
    scores[0, MEDIA_INDEX["voice"]] = np.inf
    ranks = np.argsort(np.argsort(-scores, axis=1), axis=1)
    return ranks < np.minimum(count, len(MEDIA_TYPES))[:, None]


class QueueDirectory:
    """The queues of `generator.SandboxOrg`, which this class is a base of: built once from its config."""

    config: SandboxConfig

    def _build_queues(self) -> None:
        cfg = self.config
        n = cfg.queue_count
        idx = np.arange(n, dtype=np.int64)
        keys = hash_key(cfg.seed, 1, idx) if n else np.zeros(0, dtype=np.uint64)
        self.volume = np.clip(np.exp(0.35 * normal(keys, 1)), 0.4, 2.5) if n else np.zeros(0)
        self.p_answer = 0.78 + 0.17 * uniform(keys, 2) if n else np.zeros(0)
        self.mean_wait_s = 10.0 + 70.0 * uniform(keys, 3) if n else np.zeros(0)
        has = _traffic_channels(keys, n)
        sl_target = np.tile([target for target, _ in _DEFAULT_SERVICE_LEVEL], (n, 1)).astype(float)
        sl_ms = np.tile([ms for _, ms in _DEFAULT_SERVICE_LEVEL], (n, 1)).astype(np.int64)
        for m in range(len(MEDIA_TYPES)):
            if n == 0:
                break
            pick_pct = (uniform(keys, 20 + m) * len(_SL_PERCENTAGES)).astype(int)
            choices = _SL_SECONDS[m]
            pick_s = (uniform(keys, 30 + m) * len(choices)).astype(int)
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
        self.outbound[eligible[np.argsort(uniform(keys, 60)[eligible], kind="stable")[:picked]]] = True

        # Queues created inside the range: the ones with the smallest hash, never queue 0.
        span_days = (cfg.end_date - cfg.start_date).days
        new_count = round(cfg.new_queue_share * n) if span_days >= 2 else 0
        if cfg.new_queue_share > 0 and n >= 3 and span_days >= 2:
            new_count = max(new_count, 1)
        order = np.argsort(uniform(keys, 40)[1:], kind="stable") + 1 if n > 1 else np.zeros(0, dtype=int)
        new_queues = set(order[:new_count].tolist())
        created: list[datetime] = []
        created_ms = np.zeros(n, dtype=np.int64)
        u_day, u_minute = uniform(keys, 41), uniform(keys, 42)
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
        ids = [stable_uuid("genesys-sandbox", cfg.seed, "queue", i) for i in range(n)]
        id_index = {qid: i for i, qid in enumerate(ids)}
        for item in cfg.quiet_queues:
            if isinstance(item, int) and 0 <= item < n:
                quiet[item] = True
            elif isinstance(item, str) and item in id_index:
                quiet[id_index[item]] = True
        self.quiet = quiet

        division_ids = [
            stable_uuid("genesys-sandbox", cfg.seed, "division", d) for d in range(len(_DIVISIONS))
        ]
        pick_div = (uniform(keys, 50) * len(_DIVISIONS)).astype(int) if n else []
        pick_dept = (uniform(keys, 51) * len(_DEPARTMENTS)).astype(int) if n else []
        pick_lang = (uniform(keys, 52) * len(_LANGUAGES)).astype(int) if n else []
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
        created = iso_instant(queue.date_created)
        media_settings: dict[str, object] = {}
        for media in MEDIA_TYPES:  # every block, whatever the queue serves, as real queues carry them
            target, threshold = queue.service_levels[media]
            media_settings[SETTINGS_NAME[media]] = {
                "alertingTimeoutSeconds": ALERT_TIMEOUT_S[MEDIA_INDEX[media]],
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
