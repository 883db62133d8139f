"""The queue directory as a polars frame (schema.QUEUES)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

import polars as pl

from genesys_assets.schema import QUEUES


class QueueRecord(Protocol):
    id: str
    name: str
    division_id: str | None
    division_name: str | None
    service_levels: Mapping[str, tuple[float | None, int | None]]
    date_created: datetime | None


def queues_frame(queues: Iterable[QueueRecord]) -> pl.DataFrame:
    """One row per queue, sorted by id, with the columns of schema.QUEUES."""
    rows = [
        {
            "queue_id": q.id,
            "queue_name": q.name,
            "division_id": q.division_id,
            "division_name": q.division_name,
            "service_levels": [
                {"media_type": media, "target": target, "duration_ms": duration}
                for media, (target, duration) in q.service_levels.items()
            ],
            "date_created": q.date_created,
        }
        for q in queues
    ]
    return pl.DataFrame(rows, schema=QUEUES, orient="row" if not rows else None).sort("queue_id")
