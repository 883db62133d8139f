"""Which daily partitions need their gap estimates (re)computed. Pure functions, no Dagster.

A gap is a local day whose flat KPI partition does not exist (its extraction failed or has not run). Its
estimate depends only on the nearest observed day before and after it within the window. The daily table
records, per estimated day, which two days it used (`estimate_sources` metadata). Whenever the nearest
observed days change (a gap was backfilled, a neighbour appeared) or an estimated day became observed, the
day's daily partition is stale and is planned for re-materialization.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

Sources = tuple[str | None, str | None]


def nearest_observed(
    day: date, observed: Iterable[date], window_days: int
) -> tuple[date | None, date | None]:
    """The nearest observed day strictly before and strictly after `day`, each within `window_days`."""
    before = after = None
    for candidate in observed:
        offset = (candidate - day).days
        if -window_days <= offset < 0 and (before is None or candidate > before):
            before = candidate
        elif 0 < offset <= window_days and (after is None or candidate < after):
            after = candidate
    return before, after


def estimate_sources(day: date, observed: Iterable[date], window_days: int) -> Sources:
    """The (before, after) ISO keys an estimate of `day` is built from, as recorded in metadata."""
    before, after = nearest_observed(day, observed, window_days)
    return (before.isoformat() if before else None, after.isoformat() if after else None)


def plan_refills(
    partition_keys: Iterable[str],
    observed_keys: Iterable[str],
    recorded_sources: Mapping[str, Sources | None],
    window_days: int,
) -> list[str]:
    """Daily keys whose `queue_kpis_daily` partition must be re-materialized, in date order.

    `recorded_sources` maps each materialized daily key to the sources its estimate used, or None when the
    day was observed at that time. Keys before the first or after the last observed day are not gaps (that
    history has not been loaded yet; a failed latest day shows as a failed run, not as an estimate), and a gap
    with no observed day within the window on either side has nothing to estimate from.
    """
    observed = sorted(date.fromisoformat(k) for k in observed_keys)
    if not observed:
        return []
    observed_set = set(observed)
    refills = []
    for key in sorted(partition_keys):
        day = date.fromisoformat(key)
        if day < observed[0] or day > observed[-1]:
            continue
        recorded = recorded_sources.get(key, "missing")
        if day in observed_set:
            if recorded not in (None, "missing"):
                refills.append(key)  # was estimated, is now observed: the exact values replace the estimate
            continue
        nearby = [d for d in observed if abs((d - day).days) <= window_days]
        current = estimate_sources(day, nearby, window_days)
        if current == (None, None):
            continue
        if recorded == "missing" or recorded != current:
            refills.append(key)
    return refills


def weeks_of(keys: Iterable[str]) -> list[str]:
    """The Monday keys of the weeks containing the given daily keys."""
    mondays = {date.fromisoformat(k) - timedelta(days=date.fromisoformat(k).weekday()) for k in keys}
    return sorted(m.isoformat() for m in mondays)
