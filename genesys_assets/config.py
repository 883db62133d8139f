"""Configuration: every environment variable the code location reads, in one table, read once, here.

Each variable sets one field: of `PipelineSettings` (the partitions and the KPI grid need these values when
the definitions load, before any run exists), of the Genesys client's `GenesysSettings` (built by
`GenesysResource`), of the S3 export's `ExportSettings` (built by `S3ExportResource`), of the lake's
`LakeSettings` (built by the I/O manager) or of the export's S3 client. `SETTINGS` holds them all. This module
sits below the Dagster layer: it imports nothing from `genesys_assets.defs`, whose modules read it. A variable's default is
its field's default, its text is parsed by the field's type, and its value is checked by the field's own
rule, so each default and each check is written once. A bad value fails the load of the code location with a
message that names the variable and the fix. Credentials and the bucket are read at run time through Dagster's
`EnvVar`, so they never appear in the UI. README.md's configuration table lists the same rows (a test keeps
the two equal).
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import dagster as dg
from dagster_aws.s3 import S3Resource

from genesys_assets.genesys.ratelimit import masked_url
from genesys_assets.genesys.regions import resolve_hosts
from genesys_assets.genesys.settings import GenesysSettings
from genesys_assets.lake.settings import ExportSettings, LakeSettings
from genesys_assets.localtime import GRANULARITY_MINUTES, Granularity, zone


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


# A budget below this would hold less than a day of an org of a few queues: every batch one day, every query
# one day, for no memory saved.
MIN_BATCH_ROWS = 1_000


@dataclass(frozen=True)
class PipelineSettings:
    """What shapes the asset graph and its runs: the org's timezone, the first day, the interval, the re-read,
    gap and channel windows, the rows a step holds at once, and how many partitions one backfill run may
    cover (None: a contiguous range is one run)."""

    timezone: str = "UTC"
    start_date: date = date(2026, 1, 1)
    granularity: Granularity = "PT30M"
    queue_ids: tuple[str, ...] = ()
    lookback_days: int = 7
    gap_window_days: int = 7
    channel_window_days: int = 28
    batch_rows: int = 750_000
    max_partitions_per_run: int | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            problem = self.problem(item.name, getattr(self, item.name))
            if problem:
                raise ValueError(f"{item.name}={getattr(self, item.name)!r} {problem}.")

    @staticmethod
    def problem(name: str, value: Any) -> str | None:
        """What is wrong with a value of the field `name`, or None."""
        if name == "timezone":
            try:
                zone(value)
            except ValueError:
                return (
                    "is not an IANA timezone this machine knows (e.g. UTC, Europe/Berlin, America/New_York)"
                )
        if name in ("lookback_days", "gap_window_days", "channel_window_days") and value < 1:
            return "must be at least 1"
        if name == "batch_rows" and value < MIN_BATCH_ROWS:
            return f"must be at least {MIN_BATCH_ROWS:,} (rows of a KPI table a step holds at once)"
        if name == "max_partitions_per_run" and value is not None and value < 1:
            return "must be a whole number of at least 1 (or unset, for one run per range)"
        return None

    @property
    def interval_minutes(self) -> int:
        return GRANULARITY_MINUTES[self.granularity]


Target = (
    type[PipelineSettings]
    | type[GenesysSettings]
    | type[ExportSettings]
    | type[LakeSettings]
    | type[S3Resource]
)


@dataclass(frozen=True)
class Variable:
    """One environment variable: the field it sets and what README.md says its default means."""

    name: str
    target: Target
    field: str
    unset: str = ""  # how README.md words a default that is not a value ("from the region")
    at_run_time: bool = False  # read through `EnvVar` when a run starts: required, never shown in the UI
    secret: bool = False  # may hold a password: checked at load, then read through `EnvVar`, never shown
    example: str = ""  # a good value, for error messages when the default is no value

    @property
    def default(self) -> Any:
        if is_dataclass(self.target):
            return next(item.default for item in fields(self.target) if item.name == self.field)
        return self.target.model_fields[self.field].default

    @property
    def kind(self) -> Any:
        """The field's type; for an optional field, the type of a set value."""
        if is_dataclass(self.target):
            kind = typing.get_type_hints(self.target)[self.field]
        else:
            kind = self.target.model_fields[self.field].annotation
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        return kind

    @property
    def default_text(self) -> str:
        """The default as README.md's table shows it."""
        if self.at_run_time:
            return "(required)"
        return self.unset or f"`{_show(self.default)}`"


VARIABLES: tuple[Variable, ...] = (
    Variable("GENESYS_CLIENT_ID", GenesysSettings, "client_id", at_run_time=True),
    Variable("GENESYS_CLIENT_SECRET", GenesysSettings, "client_secret", at_run_time=True),
    Variable("GENESYS_REGION", GenesysSettings, "region"),
    Variable("GENESYS_API_URL", GenesysSettings, "api_url", unset="from the region"),
    Variable("GENESYS_LOGIN_URL", GenesysSettings, "login_url", unset="from the region"),
    Variable("GENESYS_REQUESTS_PER_SECOND", GenesysSettings, "requests_per_second"),
    Variable("GENESYS_BURST", GenesysSettings, "burst"),
    Variable("GENESYS_RATE_LIMIT_DIR", GenesysSettings, "rate_limit_dir", unset="the temp dir"),
    Variable(
        "GENESYS_RATE_LIMIT_URL",
        GenesysSettings,
        "rate_limit_url",
        unset="unset",
        secret=True,
        example="postgresql://USER@HOST:5432/DB",
    ),
    Variable("GENESYS_TIMEOUT_S", GenesysSettings, "timeout_s"),
    Variable("GENESYS_MAX_ATTEMPTS", GenesysSettings, "max_attempts"),
    Variable("GENESYS_MAX_RETRY_SECONDS", GenesysSettings, "max_retry_seconds"),
    Variable("GENESYS_QUERIES_IN_FLIGHT", GenesysSettings, "queries_in_flight"),
    Variable("GENESYS_FETCH_MODE", GenesysSettings, "fetch_mode"),
    Variable("GENESYS_MAX_QUERY_DAYS", GenesysSettings, "max_sync_query_days"),
    Variable("GENESYS_MAX_JOB_DAYS", GenesysSettings, "max_job_days"),
    Variable("GENESYS_MAX_QUEUE_PREDICATES", GenesysSettings, "max_queue_predicates"),
    Variable("GENESYS_TIMEZONE", PipelineSettings, "timezone"),
    Variable("GENESYS_START_DATE", PipelineSettings, "start_date"),
    Variable("GENESYS_GRANULARITY", PipelineSettings, "granularity"),
    Variable("GENESYS_QUEUE_IDS", PipelineSettings, "queue_ids", unset="all queues"),
    Variable("GENESYS_LOOKBACK_DAYS", PipelineSettings, "lookback_days"),
    Variable("GENESYS_GAP_WINDOW_DAYS", PipelineSettings, "gap_window_days"),
    Variable("GENESYS_CHANNEL_WINDOW_DAYS", PipelineSettings, "channel_window_days"),
    Variable("GENESYS_BATCH_ROWS", PipelineSettings, "batch_rows"),
    Variable(
        "GENESYS_MAX_PARTITIONS_PER_RUN",
        PipelineSettings,
        "max_partitions_per_run",
        unset="unset (one run per range)",
        example="31",
    ),
    Variable("GENESYS_LAKE_DIR", LakeSettings, "base_dir"),
    Variable("EXPORT_S3_BUCKET", ExportSettings, "bucket", at_run_time=True),
    Variable("EXPORT_S3_PREFIX", ExportSettings, "prefix"),
    Variable("EXPORT_S3_SSE", ExportSettings, "sse"),
    Variable("EXPORT_S3_KMS_KEY_ID", ExportSettings, "kms_key_id", unset="the `aws/s3` key"),
    Variable("EXPORT_PARQUET_COMPRESSION", ExportSettings, "compression"),
    Variable("AWS_ENDPOINT_URL", S3Resource, "endpoint_url", unset="AWS's"),
)


@dataclass(frozen=True)
class Settings:
    """What the environment gives: the graph's settings, and the field values of the settings the resources
    build at run time (`GenesysSettings`, `ExportSettings`, `LakeSettings`, the export's `S3Resource`), where
    a value read at run time is an `EnvVar`."""

    pipeline: PipelineSettings
    genesys: dict[str, Any] = field(default_factory=dict)  # GenesysSettings fields
    export: dict[str, Any] = field(default_factory=dict)  # ExportSettings fields
    lake: dict[str, Any] = field(default_factory=dict)  # LakeSettings fields
    s3_client: dict[str, Any] = field(default_factory=dict)  # S3Resource fields of the export


def read(env: Mapping[str, str] | None = None, *, today: date | None = None) -> Settings:
    """Every variable of `VARIABLES` from `env` (default: the process environment), parsed and checked.

    An unset or blank variable keeps its field's default. Variables read at run time become `EnvVar`s.
    """
    env = os.environ if env is None else env
    values: dict[Target, dict[str, Any]] = {}
    for variable in VARIABLES:
        target = values.setdefault(variable.target, {})
        if variable.at_run_time:
            target[variable.field] = dg.EnvVar(variable.name)
            continue
        text = env.get(variable.name, "").strip()
        if text:
            target[variable.field] = _parse(variable, text)
            if variable.secret:
                target[variable.field] = dg.EnvVar(variable.name)
    genesys = values.get(GenesysSettings, {})
    try:  # the hosts fail the load too, not only the first run
        resolve_hosts(
            genesys.get("region", GenesysSettings.region), genesys.get("api_url"), genesys.get("login_url")
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    pipeline = PipelineSettings(**values.get(PipelineSettings, {}))
    today = today or datetime.now(UTC).astimezone(zone(pipeline.timezone)).date()
    if pipeline.start_date >= today:
        raise SettingsError(
            f"GENESYS_START_DATE={pipeline.start_date} is not in the past (today is {today} in "
            f"{pipeline.timezone}); the first partition must be a completed local day. Set an earlier date."
        )
    return Settings(
        pipeline=pipeline,
        genesys=genesys,
        export=values.get(ExportSettings, {}),
        lake=values.get(LakeSettings, {}),
        s3_client=values.get(S3Resource, {}),
    )


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _parse(variable: Variable, text: str) -> Any:
    """The value of `text` for the variable's field: parsed by the field's type, checked by its rule."""
    kind = variable.kind
    example = f"{variable.name}={variable.example or _show(variable.default)}"
    parsers: dict[Any, Callable[[str], Any]] = {int: int, float: float, date: date.fromisoformat}
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        by_folded = {str(choice).casefold(): choice for choice in choices}
        if text.casefold() not in by_folded:
            raise SettingsError(
                f"{variable.name}={text!r} is not supported; use one of {', '.join(map(str, choices))}."
            )
        value = by_folded[text.casefold()]
    elif kind in parsers:
        try:
            value = parsers[kind](text)
        except ValueError:
            what = {int: "a whole number", float: "a number", date: "an ISO date"}[kind]
            raise SettingsError(f"{variable.name}={text!r} is not {what}; set it like {example}.") from None
    elif typing.get_origin(kind) is tuple:
        value = tuple(part.strip() for part in text.split(",") if part.strip())
    else:
        value = text
    check = getattr(variable.target, "problem", None)
    problem = check(variable.field, value) if check else None
    if problem:
        shown = masked_url(text) if variable.secret else text
        raise SettingsError(f"{variable.name}={shown} {problem}; set it like {example}.")
    return value


SETTINGS: Settings = read()
"""The environment of this process, read once at import: the code location's settings."""
