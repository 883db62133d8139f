"""Instants of the sandbox org in UTC epoch ms: local day bounds, DST wall clocks, Genesys ISO strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from genesys_assets.localtime import day_bounds


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def day_bounds_ms(day: date, timezone: str) -> tuple[int, int]:
    """Half-open [start, end) of a local day in UTC epoch milliseconds."""
    start, end = day_bounds(day, timezone)
    return _ms(start), _ms(end)


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


def wall_to_elapsed(wall: np.ndarray, day: date, timezone: str, day_len: int, coin: np.ndarray) -> np.ndarray:
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


def iso_instant(instant: datetime) -> str:
    """UTC instant as Genesys writes it: 2026-01-01T09:30:00.000Z."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as a Genesys UTC instant string."""
    return iso_instant(datetime.fromtimestamp(epoch_ms / 1000, tz=UTC))
