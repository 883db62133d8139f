"""Configuration read from the environment, the errors a wrong value gives, and README.md's table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from genesys_assets import config
from genesys_assets.config import VARIABLES, SettingsError
from genesys_assets.defs.common import backfill_policy

TODAY = date(2026, 11, 23)
README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults() -> None:
    read = config.read({}, today=TODAY)
    settings = read.pipeline
    assert settings.timezone == "UTC"
    assert settings.granularity == "PT30M"
    assert settings.interval_minutes == 30
    # Genesys reprocesses data at least 48 hours old, starting once conversations are three days old; a week
    # of nightly re-reads covers that with room for a slow run, in one 7-day query a night.
    assert settings.lookback_days == 7
    assert settings.channel_window_days == 28
    assert settings.queue_ids == ()
    # Unset variables leave the resources' own defaults; the secrets and the bucket wait for the run.
    assert read.genesys.keys() == {"client_id", "client_secret"}
    assert all(isinstance(value, dg.EnvVar) for value in read.genesys.values())
    assert read.export.keys() == {"bucket"} and read.lake == {} and read.s3_client == {}


def test_values_are_parsed_by_the_fields_type() -> None:
    read = config.read(
        {
            "GENESYS_QUEUE_IDS": " a, b ,,c ",
            "GENESYS_GRANULARITY": "pt1h",
            "GENESYS_REQUESTS_PER_SECOND": "2.5",
            "GENESYS_BURST": "4",
            "EXPORT_S3_SSE": "AWS:KMS",
            "GENESYS_API_URL": "http://127.0.0.1:9",
        },
        today=TODAY,
    )
    assert read.pipeline.queue_ids == ("a", "b", "c")
    assert read.pipeline.granularity == "PT1H"
    assert read.genesys["requests_per_second"] == 2.5 and read.genesys["burst"] == 4
    assert read.genesys["api_url"] == "http://127.0.0.1:9"
    assert read.export["sse"] == "aws:kms"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"GENESYS_TIMEZONE": "Mars/Olympus"}, "GENESYS_TIMEZONE=Mars/Olympus is not an IANA timezone"),
        ({"GENESYS_START_DATE": "01/02/2026"}, "is not an ISO date"),
        ({"GENESYS_START_DATE": "2027-01-01"}, "is not in the past"),
        ({"GENESYS_GRANULARITY": "PT5M"}, "use one of PT15M, PT30M, PT1H"),
        ({"GENESYS_LOOKBACK_DAYS": "three"}, "GENESYS_LOOKBACK_DAYS='three' is not a whole number"),
        ({"GENESYS_GAP_WINDOW_DAYS": "0"}, "must be at least 1"),
        ({"GENESYS_CHANNEL_WINDOW_DAYS": "-3"}, "GENESYS_CHANNEL_WINDOW_DAYS=-3 must be at least 1"),
        (
            {"GENESYS_BURST": "0"},
            "GENESYS_BURST=0 must be a whole number of at least 1; set it like GENESYS_BURST=10",
        ),
        ({"GENESYS_TIMEOUT_S": "-1"}, "GENESYS_TIMEOUT_S=-1 must be greater than 0"),
        (
            {"GENESYS_MAX_PARTITIONS_PER_RUN": "0"},
            "GENESYS_MAX_PARTITIONS_PER_RUN=0 must be a whole number of at least 1 (or unset, for one run "
            "per range); set it like GENESYS_MAX_PARTITIONS_PER_RUN=31",
        ),
        (
            {"GENESYS_MAX_PARTITIONS_PER_RUN": "-1"},
            "GENESYS_MAX_PARTITIONS_PER_RUN=-1 must be a whole number",
        ),
        (
            {"GENESYS_MAX_PARTITIONS_PER_RUN": "abc"},
            "GENESYS_MAX_PARTITIONS_PER_RUN='abc' is not a whole number; set it like "
            "GENESYS_MAX_PARTITIONS_PER_RUN=31",
        ),
        (
            {"GENESYS_MAX_PARTITIONS_PER_RUN": "7.5"},
            "GENESYS_MAX_PARTITIONS_PER_RUN='7.5' is not a whole number",
        ),
        ({"GENESYS_REGION": "mars_north_1"}, "GENESYS_REGION"),
        ({"GENESYS_API_URL": "ftp://proxy"}, "GENESYS_API_URL"),
    ],
)
def test_bad_values_name_the_variable_and_fix(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        config.read(env, today=TODAY)
    assert fragment in str(excinfo.value)


def test_max_partitions_per_run_sets_the_backfill_policy() -> None:
    """Unset, a contiguous range is one run; set to N, runs of at most N days, and of N // 7 weeks (at least
    one) for the weekly assets, so a weekly run covers about as many days as a daily one."""
    assert config.read({}, today=TODAY).pipeline.max_partitions_per_run is None
    daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    weekly = dg.WeeklyPartitionsDefinition(start_date="2026-01-01", day_offset=1)
    policies = {
        text: (backfill_policy(daily, value), backfill_policy(weekly, value))
        for text in ("", "1", "6", "7", "31", "365")
        for value in [
            config.read({"GENESYS_MAX_PARTITIONS_PER_RUN": text}, today=TODAY).pipeline.max_partitions_per_run
        ]
    }
    single = dg.BackfillPolicy.single_run()
    assert policies == {
        "": (single, single),
        "1": (dg.BackfillPolicy.multi_run(1), dg.BackfillPolicy.multi_run(1)),
        "6": (dg.BackfillPolicy.multi_run(6), dg.BackfillPolicy.multi_run(1)),
        "7": (dg.BackfillPolicy.multi_run(7), dg.BackfillPolicy.multi_run(1)),
        "31": (dg.BackfillPolicy.multi_run(31), dg.BackfillPolicy.multi_run(4)),
        "365": (dg.BackfillPolicy.multi_run(365), dg.BackfillPolicy.multi_run(52)),
    }


def test_the_code_location_takes_the_cap_from_the_environment() -> None:
    """Loaded with the variable set, every partitioned asset carries the capped policy (this suite's own
    process loads the code location without it: one run per range)."""
    probe = (
        "from genesys_assets.definitions import defs\n"
        "graph = defs.resolve_asset_graph()\n"
        "for key in sorted(graph.get_all_asset_keys()):\n"
        "    print(key.to_user_string(), graph.get(key).backfill_policy)"
    )
    env = {**os.environ, "GENESYS_START_DATE": "2026-01-01", "GENESYS_MAX_PARTITIONS_PER_RUN": "31"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    policies = dict(line.split(" ", 1) for line in done.stdout.strip().splitlines())
    days, weeks = (
        "BackfillPolicy.multi_run(max_partitions_per_run=31)",
        "BackfillPolicy.multi_run(max_partitions_per_run=4)",
    )
    assert policies == {
        "genesys_queues": "None",
        "raw_queue_aggregates": days,
        "queue_interval_kpis": days,
        "queue_kpis_daily": days,
        "queue_export_daily": days,
        "queue_kpis_weekly": weeks,
        "queue_export_weekly": weeks,
    }


def _readme_rows() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| variable | default | meaning |") :].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0])
        assert len(names) == 1, f"one variable per row of README.md's table: {line}"
        assert names[0] not in rows, f"{names[0]} appears twice in README.md's table"
        rows[names[0]] = cells[1]
    return rows


def test_readme_table_equals_the_code() -> None:
    rows = _readme_rows()
    assert list(rows) == [variable.name for variable in VARIABLES]
    assert rows == {variable.name: variable.default_text for variable in VARIABLES}


def test_no_other_module_reads_the_environment() -> None:
    package = Path(config.__file__).parent
    readers = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative in ("config.py", "demo.py") or relative.startswith("sandbox/"):
            continue  # the demo and the sandbox org are programs of their own, not the code location
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|getenv|EnvVar\(", text):
            readers.append(relative)
    assert readers == []


def test_rate_limit_url_is_checked_at_load_and_never_shown() -> None:
    url = "postgresql://genesys:hunter2-secret@db.internal:5432/dagster"
    read = config.read({"GENESYS_RATE_LIMIT_URL": url}, today=TODAY)
    assert read.genesys["rate_limit_url"] == dg.EnvVar("GENESYS_RATE_LIMIT_URL")  # resolved when a run starts
    with pytest.raises(SettingsError) as excinfo:
        config.read({"GENESYS_RATE_LIMIT_URL": "mysql://genesys:hunter2-secret@db/x"}, today=TODAY)
    message = str(excinfo.value)
    assert "GENESYS_RATE_LIMIT_URL=mysql://genesys:***@db/x must be a postgresql:// URL" in message
    assert "hunter2" not in message and "GENESYS_RATE_LIMIT_URL=postgresql://USER@HOST:5432/DB" in message


def test_config_imports_nothing_of_the_dagster_layer() -> None:
    """Configuration sits below `genesys_assets.defs`: importing it loads none of the Dagster layer's modules."""
    probe = (
        "import sys, genesys_assets.config\n"
        "print(sorted(name for name in sys.modules if name.startswith('genesys_assets.defs')))"
    )
    env = {**os.environ, "GENESYS_START_DATE": "2026-01-01"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout
