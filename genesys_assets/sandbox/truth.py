"""Ground truth of the sandbox org: exact daily measures per queue x media type x direction x local
date.

Tests compare what the pipeline extracted (through HTTP, the client, the transforms and the lake) with
these numbers. They are computed straight from the generated conversations with per-metric masks on the
local day's bounds (`localtime.day_bounds`), independently of the HTTP aggregation path (no bucket edges,
no cells, no JSON). Keys are the interval KPI measure names of `schema.KPI_MEASURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl

from genesys_assets.localtime import day_bounds, iter_days
from genesys_assets.sandbox.generator import (
    DIRECTIONS,
    MEDIA_INDEX,
    OUTCOME_ABANDONED,
    OUTCOME_ANSWERED,
    OUTCOME_FLOW_OUT,
    SandboxOrg,
    SandboxQueue,
)
from genesys_assets.schema import KPI_MEASURES


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
        """The (media type, direction) pairs the queue has traffic on: its inbound media types, and outbound
        voice when it places outbound calls (quiet queues included, though they have no traffic)."""
        queue = self.queue(queue_id)
        inbound = tuple((media, "inbound") for media in queue.media_types)
        return (*inbound, ("voice", "outbound")) if queue.outbound else inbound

    def daily_totals(
        self, queue_id: str, media_type: str, local_date: date, direction: str = "inbound"
    ) -> dict[str, int]:
        """The day's measures (KPI names) of one queue, media type and direction; all zeros without activity.

        Inbound conversations give every measure; outbound calls placed for the queue give only their work
        (handle, talk, hold, after-call work), never offered, answered, abandoned, waits or service level.
        """
        org = self.org
        if queue_id not in org.queue_index:
            raise KeyError(f"Queue {queue_id} is not in the sandbox org.")
        if media_type not in MEDIA_INDEX:
            raise KeyError(f"Media type {media_type!r} is unknown; use one of {sorted(MEDIA_INDEX)}.")
        if direction not in DIRECTIONS:
            raise KeyError(f"Direction {direction!r} is unknown; use one of {list(DIRECTIONS)}.")
        start, end = day_bounds(local_date, org.timezone)
        lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        data = org.days(local_date - timedelta(days=1), local_date)
        mine = (
            (data.queue == org.queue_index[queue_id])
            & (data.media == MEDIA_INDEX[media_type])
            & (data.direction == DIRECTIONS.index(direction))
        )
        inbound = direction == "inbound"

        def within(times: np.ndarray) -> np.ndarray:
            return mine & (times >= lo) & (times < hi)

        answered = data.outcome == OUTCOME_ANSWERED
        ended_wait = within(data.wait_end) & inbound
        answered_today = ended_wait & answered
        abandoned_today = ended_wait & (data.outcome == OUTCOME_ABANDONED)
        handled_today = within(data.acw_end) & answered
        talked_today = within(data.talk_end) & answered
        held_today = within(data.hold_end) & answered & (data.hold > 0)
        answered_n = int(answered_today.sum())
        abandoned_n = int(abandoned_today.sum())
        return {
            "offered": int((within(data.offered) & inbound).sum()),
            "answered": answered_n,
            "answer_sum_ms": int(data.wait[answered_today].sum()),
            "abandoned": abandoned_n,
            "flow_out": int((ended_wait & (data.outcome == OUTCOME_FLOW_OUT)).sum()),
            "handle_count": int(handled_today.sum()),
            "handle_sum_ms": int((data.dialing + data.talk + data.hold + data.acw)[handled_today].sum()),
            "talk_sum_ms": int(data.talk[talked_today].sum()),
            "hold_sum_ms": int(data.hold[held_today].sum()),
            "acw_sum_ms": int(data.acw[handled_today].sum()),
            "wait_count": int(ended_wait.sum()),
            "wait_sum_ms": int(data.wait[ended_wait].sum()),
            "sl_numerator": answered_n - int((answered_today & data.over_sla).sum()),
            "sl_denominator": answered_n + abandoned_n,
        }

    def daily_frame(self, first: date, last: date) -> pl.DataFrame:
        """All non-zero daily totals from first to last: local_date, queue_id, media_type, direction +
        measures, sorted by those keys."""
        rows = []
        for day in iter_days(first, last):
            for queue in self.org.queues:
                for media, direction in self.channels(queue.id):
                    totals = self.daily_totals(queue.id, media, day, direction)
                    if any(totals.values()):
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
        schema.update({name: pl.Int64 for name in KPI_MEASURES})
        return pl.DataFrame(rows, schema=schema).sort("local_date", "queue_id", "media_type", "direction")
