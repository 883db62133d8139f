"""Local days, weeks and intervals in an IANA timezone, as UTC instants.

Partitions are local days; the Genesys API is queried with local-midnight bounds and answers with UTC
bucket strings. Every conversion between the two lives here. A day is 23, 24 or 25 hours long.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Granularity = Literal["PT15M", "PT30M", "PT1H"]
if TYPE_CHECKING:
    import polars as pl

GRANULARITY_MINUTES: dict[Granularity, int] = {"PT15M": 15, "PT30M": 30, "PT1H": 60}


class InvalidTimezoneError(ValueError):
    """The configured timezone is not an IANA name this machine knows."""


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, with an error that says what to fix."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimezoneError(
            f"Unknown timezone {name!r}. Set GENESYS_TIMEZONE to an IANA name such as "
            "'UTC', 'Europe/Berlin' or 'America/New_York'."
        ) from exc


def local_midnight(day: date, tz: str) -> datetime:
    """The instant (UTC) at which the local day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """Half-open [start, end) UTC instants of one local day."""
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)


def days_bounds(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """Half-open UTC bounds of the local days first..last (inclusive)."""
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


def iter_days(first: date, last: date) -> Iterator[date]:
    """Every date from first to last inclusive."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def interval_starts(day: date, tz: str, minutes: int) -> list[datetime]:
    """UTC starts of every bucket of a local day: 92/96/100 at PT15M, 46/48/50 at PT30M on DST days."""
    start, end = day_bounds(day, tz)
    step = timedelta(minutes=minutes)
    count = int((end - start) / step)
    return [start + i * step for i in range(count)]


def local_date_of(instant: datetime, tz: str) -> date:
    """The local date an instant falls on."""
    return instant.astimezone(zone(tz)).date()


def week_start(day: date) -> date:
    """The Monday of the local week containing the day: weeks run Monday to Sunday, as the weekly
    partitions do."""
    return day - timedelta(days=day.weekday())


def week_days(monday: date | str) -> list[date]:
    """The seven local days of the week that starts on `monday` (a date or a weekly partition key)."""
    first = date.fromisoformat(monday) if isinstance(monday, str) else monday
    if first.weekday() != 0:
        raise ValueError(f"Weeks start on Monday; {first.isoformat()} is a {first:%A}.")
    return [first + timedelta(days=offset) for offset in range(7)]


def week_start_expr(day: pl.Expr) -> pl.Expr:
    """`week_start` of a polars date column."""
    import polars as pl  # the API client uses this module without polars

    return day - pl.duration(days=day.dt.weekday() - 1)


def iso_interval(start: datetime, end: datetime) -> str:
    """An ISO-8601 interval string in UTC with milliseconds, as the Genesys API writes them."""

    def fmt(instant: datetime) -> str:
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"

    return f"{fmt(start)}/{fmt(end)}"


def parse_iso_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant with a Z or numeric offset into an aware UTC datetime."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(
            f"Instant {text!r} has no offset; Genesys intervals are always UTC or offset-qualified."
        )
    return parsed.astimezone(UTC)
