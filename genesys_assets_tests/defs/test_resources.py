"""`GenesysResource` in a real Dagster materialization, and the client package's import cost."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from genesys_assets.defs.resources import GenesysResource
from genesys_assets.genesys import GenesysClient
from genesys_assets.sandbox import SandboxServer


def test_resource_reads_env_vars_and_hands_out_clients(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_GENESYS_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("TEST_GENESYS_CLIENT_SECRET", sandbox.client_secret)

    @dg.asset
    def queue_count(context: dg.AssetExecutionContext, genesys: GenesysResource) -> dg.MaterializeResult:
        with genesys.get_client(context.log) as client:
            assert isinstance(client, GenesysClient)
            count = len(client.list_queues())
            stats = client.stats
        return dg.MaterializeResult(metadata={"queues": count, "api_calls": stats.api_calls})

    resource = GenesysResource(
        client_id=dg.EnvVar("TEST_GENESYS_CLIENT_ID"),
        client_secret=dg.EnvVar("TEST_GENESYS_CLIENT_SECRET"),
        api_url=sandbox.url,
        login_url=sandbox.url,
        rate_limit_dir=str(tmp_path),
        requests_per_second=50.0,
        burst=20,
    )
    result = dg.materialize([queue_count], resources={"genesys": resource})
    assert result.success
    metadata = result.asset_materializations_for_node("queue_count")[0].metadata
    assert metadata["queues"].value == len(sandbox.truth.queue_ids())
    assert metadata["api_calls"].value == 1

    direct = GenesysResource(client_id="id", client_secret="Very-Secret-123", region="eu_west_1")
    assert "Very-Secret-123" not in repr(direct) and "Very-Secret-123" not in str(direct)
    settings = direct.settings()
    assert settings.hosts().api_url == "https://api.mypurecloud.ie"
    assert (
        settings.requests_per_second,
        settings.burst,
        settings.max_sync_query_days,
        settings.max_job_days,
    ) == (
        5.0,
        10,
        7,
        31,
    )
    out, err = capsys.readouterr()
    assert sandbox.client_secret not in out + err


def test_client_package_imports_fast_without_dagster_sdk_or_polars() -> None:
    code = (
        "import sys, time; t = time.process_time(); import genesys_assets.genesys; "
        "print(time.process_time() - t); "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        "('dagster', 'PureCloudPlatformClientV2', 'polars', 'pandas')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    seconds, heavy = float(out[0]), out[1]
    print(f"\nimport genesys_assets.genesys: {seconds:.3f} s of CPU")
    assert heavy == ""
    assert seconds < 1.0  # CPU, not wall time: a loaded machine delays the import without making it heavier
