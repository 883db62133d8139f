"""Pipeline settings that shape the asset graph itself, read once from the environment.

Partitions need the timezone and the first date when the definitions load, before any run exists, so these
few values cannot be Dagster `EnvVar`s. Credentials and endpoints are resource fields read through `EnvVar`
in `definitions.py`. Every bad value fails the load with a message that names the variable and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from genesys_assets.localtime import GRANULARITY_MINUTES, zone

DEFAULT_START_DATE = "2026-01-01"


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


@dataclass(frozen=True)
class PipelineSettings:
    timezone: str
    start_date: date
    granularity: str
    lookback_days: int
    gap_window_days: int
    channel_window_days: int
    queue_ids: tuple[str, ...]

    @property
    def interval_minutes(self) -> int:
        return GRANULARITY_MINUTES[self.granularity]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, today: date | None = None) -> PipelineSettings:
        env = os.environ if env is None else env
        timezone = env.get("GENESYS_TIMEZONE", "UTC").strip() or "UTC"
        try:
            zone(timezone)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

        raw_start = env.get("GENESYS_START_DATE", DEFAULT_START_DATE).strip()
        try:
            start_date = date.fromisoformat(raw_start)
        except ValueError:
            raise SettingsError(
                f"GENESYS_START_DATE={raw_start!r} is not an ISO date; set it like 2026-01-01."
            ) from None
        today = today or datetime.now(UTC).astimezone(zone(timezone)).date()
        if start_date >= today:
            raise SettingsError(
                f"GENESYS_START_DATE={start_date} is not in the past (today is {today} in {timezone}); "
                "the first partition must be a completed local day. Set an earlier date."
            )

        granularity = env.get("GENESYS_GRANULARITY", "PT30M").strip().upper()
        if granularity not in GRANULARITY_MINUTES:
            allowed = ", ".join(GRANULARITY_MINUTES)
            raise SettingsError(
                f"GENESYS_GRANULARITY={granularity!r} is not supported; use one of {allowed}."
            )

        queue_ids = tuple(q.strip() for q in env.get("GENESYS_QUEUE_IDS", "").split(",") if q.strip())
        return cls(
            timezone=timezone,
            start_date=start_date,
            granularity=granularity,
            lookback_days=_positive_int(env, "GENESYS_LOOKBACK_DAYS", 7),
            gap_window_days=_positive_int(env, "GENESYS_GAP_WINDOW_DAYS", 7),
            channel_window_days=_positive_int(env, "GENESYS_CHANNEL_WINDOW_DAYS", 28),
            queue_ids=queue_ids,
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it like {default}.") from None
    if value < 1:
        raise SettingsError(f"{name}={value} must be at least 1 (default {default}).")
    return value
