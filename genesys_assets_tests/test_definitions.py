"""The code location as a whole: a snapshot of its graph, and `dg check defs` / `dg list defs` on it.

The snapshot (`snapshots/definitions.json`) holds what a user sees in the UI: asset keys, deps, groups,
partitions, kinds, owners, freshness, checks, jobs, schedules, sensors and resources. A change to any of
them fails here until the snapshot is rewritten on purpose:

    .venv/bin/python -m genesys_assets_tests.test_definitions    # rewrite snapshots/definitions.json
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from genesys_assets.definitions import defs
from genesys_assets.defs.automation import DAILY_CRON, RUN_WITHIN, WEEKLY_CRON

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.json"
DG = str(Path(sys.executable).with_name("dg"))


def _freshness(policy: dg.FreshnessPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "deadline_cron": policy.deadline_cron,
        "lower_bound_delta_s": policy.lower_bound_delta.total_seconds(),
        "timezone": policy.timezone,
    }


def graph_snapshot(definitions: dg.Definitions) -> dict[str, Any]:
    """What the UI shows of the code location, as plain JSON values."""
    checks: dict[str, list[str]] = {}
    for check in definitions.resolve_asset_graph().asset_check_keys:
        checks.setdefault(check.asset_key.to_user_string(), []).append(check.name)
    assets = {
        spec.key.to_user_string(): {
            "group": spec.group_name,
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "partitions": str(spec.partitions_def) if spec.partitions_def else None,
            "kinds": sorted(spec.kinds),
            "owners": list(spec.owners),
            "freshness": _freshness(spec.freshness_policy),
            "checks": sorted(checks.get(spec.key.to_user_string(), [])),
            "code_references": "dagster/code_references" in spec.metadata,
        }
        for spec in sorted(definitions.resolve_all_asset_specs(), key=lambda spec: spec.key)
    }
    repository = definitions.get_repository_def()
    jobs = {
        job.name: sorted(key.to_user_string() for key in job.asset_layer.executable_asset_keys)
        for job in definitions.resolve_all_job_defs()
        if not job.name.startswith("__")
    }
    schedules = {
        schedule.name: {
            "job": schedule.job_name,
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "default_status": schedule.default_status.value,
        }
        for schedule in sorted(repository.schedule_defs, key=lambda s: s.name)
    }
    sensors = {
        sensor.name: {
            "jobs": sorted(job.name for job in sensor.jobs) if sensor.has_jobs else [],
            "default_status": sensor.default_status.value,
        }
        for sensor in sorted(repository.sensor_defs, key=lambda s: s.name)
    }
    resources = {key: type(value).__name__ for key, value in sorted(definitions.resources.items())}
    return {
        "assets": assets,
        "jobs": dict(sorted(jobs.items())),
        "schedules": schedules,
        "sensors": sensors,
        "resources": resources,
    }


def test_graph_matches_the_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert graph_snapshot(defs) == expected, (
        "The code location changed; if that is intended, rewrite the snapshot: "
        ".venv/bin/python -m genesys_assets_tests.test_definitions"
    )


def test_export_freshness_follows_the_schedules() -> None:
    # An export is due RUN_WITHIN after its schedule's tick: the deadline is the tick's time plus that.
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for asset, cron in (("queue_export_daily", DAILY_CRON), ("queue_export_weekly", WEEKLY_CRON)):
        policy = specs[asset].freshness_policy
        assert policy is not None
        minute, hour, *rest = cron.split()
        deadline_minute, deadline_hour, *deadline_rest = policy.deadline_cron.split()
        assert policy.lower_bound_delta == RUN_WITHIN
        assert (deadline_minute, deadline_rest) == (minute, rest)
        assert int(deadline_hour) == int(hour) + RUN_WITHIN.total_seconds() // 3600
    assert sorted(key for key, spec in specs.items() if spec.freshness_policy) == [
        "queue_export_daily",
        "queue_export_weekly",
    ]


def _dg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DG, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.e2e
def test_dg_check_and_list_defs() -> None:
    checked = _dg("check", "defs")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    sections = json.loads(listed.stdout)
    names = {
        section: sorted(item.get("asset_key") or item.get("name") or item.get("key") for item in items)
        for section, items in sections.items()
    }
    snapshot = graph_snapshot(defs)
    assert names["assets"] == sorted(snapshot["assets"])
    assert names["jobs"] == sorted(snapshot["jobs"])
    assert names["schedules"] == sorted(snapshot["schedules"])
    assert names["sensors"] == sorted(snapshot["sensors"])
    assert names["resources"] == sorted(snapshot["resources"])
    assert len(sections["asset_checks"]) == sum(len(a["checks"]) for a in snapshot["assets"].values())


THROWAWAY = '''"""An asset module dropped into defs/ with no other edit."""

import dagster as dg


@dg.asset
def dropped_in_asset() -> None:
    """Loads because its module is in the defs folder."""
'''


@pytest.mark.e2e
def test_a_module_dropped_into_defs_loads_with_no_other_edit(tmp_path: Path) -> None:
    # A copy of the project, so the throwaway module never meets the tests that load the real code location.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "pyproject.toml", project)
    shutil.copytree(
        REPO / "genesys_assets", project / "genesys_assets", ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "genesys_assets" / "defs" / "dropped_in.py").write_text(THROWAWAY, encoding="utf-8")
    listed = subprocess.run(
        [DG, "list", "defs", "--json"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assets = {item["asset_key"]: item for item in json.loads(listed.stdout)["assets"]}
    assert sorted(assets) == sorted([*graph_snapshot(defs)["assets"], "dropped_in_asset"])
    assert assets["dropped_in_asset"]["source"].startswith("genesys_assets/defs/dropped_in.py")


@pytest.mark.e2e
def test_code_location_imports_neither_the_demo_nor_the_sandbox() -> None:
    # moto, the demo and the sandbox org are development tools (moto is in the dev dependency group).
    probe = (
        "import sys, genesys_assets.definitions; "
        "print(sorted({m.split('.')[0] if m.startswith('moto') else m for m in sys.modules "
        "if m.startswith(('moto', 'genesys_assets.demo', 'genesys_assets.sandbox'))}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(graph_snapshot(defs), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
