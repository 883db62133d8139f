"""Ground truth of the sandbox org: exact daily measures per queue x media type x direction x local
date.

Tests compare what the pipeline extracted (through HTTP, the client, the transforms and the lake) with
these numbers. They are computed straight from the generated conversations with per-metric masks on the
local day's bounds (`localtime.day_bounds`), independently of the HTTP aggregation path (no bucket edges,
no cells, no JSON). Keys are the interval KPI measure names of `schema.KPI_MEASURES` plus the maxima of
`schema.KPI_MAXIMA` (``wait_max_ms``: the longest queue wait ending in the day, None when no wait ended in
it).

The org's analytics settings in effect are applied: the short-abandon threshold and the service-level
switches (``sl_numerator``/``sl_denominator``). Metrics the org reports without direction
(``partial_group_metrics``) still count here per direction, as the conversations have one: an answer's
groups without direction hold those metrics' entries for every direction together, so a test adds them to
the detailed groups' entries and compares with the totals over both directions, `daily_totals_by_media`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl

from genesys_assets.localtime import day_bounds, iter_days
from genesys_assets.sandbox.generator import (
    ANALYTICS_MEDIA_INDEX,
    DIRECTIONS,
    OUTCOME_ABANDONED,
    OUTCOME_ANSWERED,
    OUTCOME_FLOW_OUT,
    OUTCOME_SESSION,
    TRANSFER_BLIND,
    TRANSFER_CONSULT,
    DayData,
    SandboxOrg,
)
from genesys_assets.sandbox.queues import SETTINGS_NAME, SandboxQueue
from genesys_assets.schema import KPI_MAXIMA, KPI_MEASURES

Totals = dict[str, int | None]


def count(mask: np.ndarray) -> int:
    """How many rows a boolean mask selects."""
    return int(np.count_nonzero(mask))


class Truth:
    """Exact daily totals of the org the server currently serves (follows `update`)."""

    def __init__(self, org: Callable[[], SandboxOrg]) -> None:
        self._org = org

    @property
    def org(self) -> SandboxOrg:
        return self._org()

    def queues(self) -> tuple[SandboxQueue, ...]:
        """Every queue of the org (quiet and newly created ones included)."""
        return self.org.queues

    def queue_ids(self) -> list[str]:
        return [q.id for q in self.org.queues]

    def queue(self, queue_id: str) -> SandboxQueue:
        org = self.org
        return org.queues[org.queue_index[queue_id]]

    def channels(self, queue_id: str) -> tuple[tuple[str, str], ...]:
        """The (media type, direction) pairs the queue has traffic on: its inbound media types, co-browse
        (inbound) when it serves chat, and outbound voice when it places outbound calls (quiet queues
        included, though they have no traffic)."""
        queue = self.queue(queue_id)
        inbound = [(media, "inbound") for media in queue.media_types]
        if "chat" in queue.media_types:
            inbound.append(("cobrowse", "inbound"))
        return (*inbound, ("voice", "outbound")) if queue.outbound else tuple(inbound)

    def daily_totals(
        self, queue_id: str, media_type: str, local_date: date, direction: str = "inbound"
    ) -> Totals:
        """The day's measures (KPI names) of one queue, media type and direction; zeros (and a None
        ``wait_max_ms``) without activity.

        Inbound conversations give the queue measures (offered, answered, abandoned, short abandons,
        flow-outs, waits, alerts, service level), their agents' work and transfers; co-browse sessions only
        offered and connected; outbound attempts give the outbound counts, and the connected ones their
        work, never offered, answered, abandoned, waits, alerts or service level.
        """
        org = self.org
        if queue_id not in org.queue_index:
            raise KeyError(f"Queue {queue_id} is not in the sandbox org.")
        if media_type not in ANALYTICS_MEDIA_INDEX:
            raise KeyError(
                f"Media type {media_type!r} is unknown; use one of {sorted(ANALYTICS_MEDIA_INDEX)}."
            )
        if direction not in DIRECTIONS:
            raise KeyError(f"Direction {direction!r} is unknown; use one of {list(DIRECTIONS)}.")
        return self._totals(org, self._day(org, local_date), queue_id, media_type, direction)

    @staticmethod
    def _day(org: SandboxOrg, local_date: date) -> tuple[DayData, int, int]:
        """The conversations whose events can fall on a local day (offered that day or the day before), and
        the day's bounds in epoch ms."""
        start, end = day_bounds(local_date, org.timezone)
        lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        return org.days(local_date - timedelta(days=1), local_date), lo, hi

    def _totals(
        self, org: SandboxOrg, day: tuple[DayData, int, int], queue_id: str, media_type: str, direction: str
    ) -> Totals:
        cfg = org.config
        data, lo, hi = day
        rows = np.flatnonzero(
            (data.queue == org.queue_index[queue_id])
            & (data.media == ANALYTICS_MEDIA_INDEX[media_type])
            & (data.direction == DIRECTIONS.index(direction))
        )
        inbound = direction == "inbound"
        outcome = data.outcome[rows]
        wait, talk, hold, acw = data.wait[rows], data.talk[rows], data.hold[rows], data.acw[rows]
        transfer = data.transfer[rows]

        def within(column: np.ndarray) -> np.ndarray:
            times = column[rows]
            return (times >= lo) & (times < hi)

        worked = outcome == OUTCOME_ANSWERED  # answered inbound, connected outbound
        # Answered, abandoned or flowed out (co-browse sessions never wait in queue).
        in_queue = (outcome <= OUTCOME_FLOW_OUT) if inbound else np.zeros(rows.size, dtype=bool)
        ended_wait = in_queue & within(data.wait_end)
        answered_today = ended_wait & worked
        abandoned_today = ended_wait & (outcome == OUTCOME_ABANDONED)
        short_today = abandoned_today & (wait < cfg.short_abandon_threshold_s * 1000)
        flow_today = ended_wait & (outcome == OUTCOME_FLOW_OUT)
        handled_today = worked & within(data.acw_end)
        talked_today = worked & within(data.talk_end)
        held_today = worked & (hold > 0) & within(data.hold_end)
        over_today = answered_today & data.over_sla[rows]
        # Not-responding alerts last the queue's alerting timeout for the channel, as its settings say.
        not_responding = 0
        for j in range(data.nr_end.shape[1]):
            ended = (data.not_responding[rows] > j) & (
                (data.nr_end[rows, j] >= lo) & (data.nr_end[rows, j] < hi)
            )
            not_responding += count(in_queue & ended)
        timeout_ms = 0
        if media_type in SETTINGS_NAME:
            settings = org.queue_settings_json(self.queue(queue_id))["mediaSettings"]
            timeout_ms = 1000 * settings[SETTINGS_NAME[media_type]]["alertingTimeoutSeconds"]  # type: ignore[index]
        outbound = not inbound
        started = within(data.offered)
        connected_at = within(data.wait_end)

        answered_n = count(answered_today)
        abandoned_n = count(abandoned_today)
        short_n = count(short_today)
        flow_n = count(flow_today)
        over_n = count(over_today)
        denominator = answered_n
        if cfg.sl_include_abandons:
            denominator += abandoned_n - (0 if cfg.sl_include_short_abandons else short_n)
        if cfg.sl_include_flow_outs:
            denominator += flow_n
        blind = count(talked_today & (transfer == TRANSFER_BLIND))
        consult = count(talked_today & (transfer == TRANSFER_CONSULT))
        totals: Totals = {
            "offered": count(started) if inbound else 0,
            "answered": answered_n,
            "answer_sum_ms": int(wait[answered_today].sum()),
            "abandoned": abandoned_n,
            "flow_out": flow_n,
            "handle_count": count(handled_today),
            "handle_sum_ms": int((data.dialing[rows] + talk + hold + acw)[handled_today].sum()),
            "talk_sum_ms": int(talk[talked_today].sum()),
            "hold_sum_ms": int(hold[held_today].sum()),
            "acw_sum_ms": int(acw[handled_today].sum()),
            "wait_count": count(ended_wait),
            "wait_sum_ms": int(wait[ended_wait].sum()),
            "sl_numerator": answered_n - over_n,
            "sl_denominator": denominator,
            "short_abandoned": short_n,
            "abandon_sum_ms": int(wait[abandoned_today].sum()),
            "flow_out_sum_ms": int(wait[flow_today].sum()),
            "talk_count": count(talked_today),
            "hold_count": count(held_today),
            "acw_count": count(handled_today),
            "transferred": blind + consult,
            "blind_transferred": blind,
            "consult_transferred": consult,
            # Every not-responding alert, and the answered one ringing up to the answer.
            "alert_count": not_responding + answered_n,
            "alert_sum_ms": not_responding * timeout_ms + int(data.ring[rows][answered_today].sum()),
            "not_responding_count": not_responding,
            "not_responding_sum_ms": not_responding * timeout_ms,
            "connected": count(connected_at & worked) + count(started & (outcome == OUTCOME_SESSION)),
            "outbound": count(started & worked) if outbound else 0,
            "outbound_attempted": count(started) if outbound else 0,
            "outbound_connected": count(connected_at & worked) if outbound else 0,
            "outbound_abandoned": count(connected_at & (outcome == OUTCOME_ABANDONED)) if outbound else 0,
            "over_sla": over_n,
            "wait_max_ms": int(wait[ended_wait].max()) if ended_wait.any() else None,
        }
        return totals

    def daily_totals_by_media(self, queue_id: str, media_type: str, local_date: date) -> Totals:
        """The day's measures of one queue and media type over both directions (sums; ``wait_max_ms`` the
        larger): what an answer's group without direction and its detailed groups hold together."""
        out: Totals = dict.fromkeys(KPI_MEASURES, 0)
        out["wait_max_ms"] = None
        for direction in DIRECTIONS:
            totals = self.daily_totals(queue_id, media_type, local_date, direction)
            for name in KPI_MEASURES:
                out[name] = int(out[name] or 0) + int(totals[name] or 0)
            maxima = [v for v in (out["wait_max_ms"], totals["wait_max_ms"]) if v is not None]
            out["wait_max_ms"] = max(maxima) if maxima else None
        return out

    def daily_frame(self, first: date, last: date) -> pl.DataFrame:
        """All daily totals with any activity from first to last: local_date, queue_id, media_type,
        direction + measures (Int64) + maxima (Int64, null without a wait), sorted by those keys."""
        rows = []
        org = self.org
        for day in iter_days(first, last):
            conversations = self._day(org, day)
            for queue in org.queues:
                for media, direction in self.channels(queue.id):
                    totals = self._totals(org, conversations, queue.id, media, direction)
                    if any(totals[name] for name in KPI_MEASURES):
                        rows.append(
                            {
                                "local_date": day,
                                "queue_id": queue.id,
                                "media_type": media,
                                "direction": direction,
                                **totals,
                            }
                        )
        schema = {
            "local_date": pl.Date,
            "queue_id": pl.String,
            "media_type": pl.String,
            "direction": pl.String,
        }
        schema.update({name: pl.Int64 for name in (*KPI_MEASURES, *KPI_MAXIMA)})
        return pl.DataFrame(rows, schema=schema).sort("local_date", "queue_id", "media_type", "direction")
