"""The gap-refill plan: which daily partitions need their estimate (re)computed, and which weeks are stale.

A gap's estimate (`gapfill.fill_days`) depends only on the nearest observed day before and after it within
the window. The daily table records, per estimated day, which two days it used (`estimate_sources`
metadata). Whenever the nearest observed days change (a gap was backfilled, a neighbour appeared) or an
estimated day became observed, the day's daily partition is stale and is planned for re-materialization. A
week is stale once one of its days changed after the week was built (a refill, a backfill, a restatement
re-read).

Which days were observed comes from the caller: the Dagster layer applies its one rule in
`defs.gap_refills.observed_keys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from genesys_assets import localtime

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


def days_to_read(days: Sequence[date], observed: Iterable[date], window_days: int) -> list[date]:
    """The observed days a gap fill of `days` reads, in date order: each observed day of `days` itself and,
    for each gap among them, every observed day within `window_days` of it (its estimate's candidates)."""
    observed_set = set(observed)
    needed = {day for day in days if day in observed_set}
    for day in days:
        if day not in observed_set:
            needed.update(other for other in observed_set if 0 < abs((other - day).days) <= window_days)
    return sorted(needed)


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


def stale_weeks(
    daily_latest: Mapping[str, int], weekly_latest: Mapping[str, int], pending: Iterable[str] = ()
) -> dict[str, int]:
    """Weekly keys built before the latest change of one of their days, each with that change's storage id.

    `daily_latest` and `weekly_latest` map partition keys to the storage id (event order) of their latest
    `queue_kpis_daily` and `queue_kpis_weekly` materializations. A week that was never built is left to its
    schedule or a backfill; a week holding a day in `pending` (a refill requested at the same time) waits
    for it, so it is built once, after that day.
    """
    waiting = {localtime.week_start(date.fromisoformat(key)) for key in pending}
    newest: dict[str, int] = {}
    for key, storage_id in daily_latest.items():
        monday = localtime.week_start(date.fromisoformat(key))
        week = monday.isoformat()
        if week in weekly_latest and monday not in waiting and storage_id > weekly_latest[week]:
            newest[week] = max(storage_id, newest.get(week, 0))
    return dict(sorted(newest.items()))
