"""The container image: the Dockerfile's install step, run in an empty folder, gives an environment from which
the code location loads and Dagster's gRPC server command runs.

Images cannot be built here, so the test copies exactly what the Dockerfile's COPY lines name into an empty
folder and runs the script its RUN line calls. uv reuses its cache, so this takes seconds; bytecode
compilation is skipped (COMPILE_BYTECODE=0), the only difference from the image build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # runs the installer and child processes

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"


def _copies() -> list[tuple[str, str]]:
    """(source, destination) of every COPY line of the Dockerfile (destinations relative to WORKDIR)."""
    pairs = []
    for line in DOCKERFILE.read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, destination = line.split()[1:]
        for source in sources:
            target = destination + Path(source).name if destination.endswith("/") else destination
            pairs.append((source, target.removeprefix("./")))
    return pairs


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-", text, re.MULTILINE)
    assert [line for line in text.splitlines() if line.startswith("RUN ")] == [
        "RUN bash scripts/install-image.sh /app --user dagster && rm -rf /tmp/uv-cache"
    ]
    assert "USER 10001" in text  # not root
    assert 'CMD ["dagster", "api", "grpc"' in text
    sources = {source for source, _ in _copies()}
    assert sources == {"pyproject.toml", "uv.lock", "README.md", "genesys_assets", "scripts/install-image.sh"}


def test_install_script_in_an_empty_folder_gives_a_loadable_code_location(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for source, destination in _copies():
        target = app / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / source, target)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GENESYS_", "DAGSTER_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env.update({"UV": str(REPO / ".tools" / "bin" / "uv"), "COMPILE_BYTECODE": "0"})
    install = subprocess.run(
        ["bash", "scripts/install-image.sh", str(app)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    python = app / ".venv" / "bin" / "python"
    # One interpreter: the code location loads, and the image's command (`dagster api grpc`) parses.
    probe = (
        "import importlib.util, genesys_assets, dagster_k8s, dagster\n"
        "from click.testing import CliRunner\n"
        "from dagster._cli.api import api_cli\n"
        "from genesys_assets.definitions import defs\n"
        "assert {'genesys_daily_job', 'genesys_directory_job'} <= {j.name for j in defs.jobs}\n"
        "grpc = CliRunner().invoke(api_cli, ['grpc', '--help'])\n"
        "assert grpc.exit_code == 0 and '--module-name' in grpc.output, grpc.output\n"
        "print(genesys_assets.__file__, dagster.__version__, dagster_k8s.__version__,\n"
        "      importlib.util.find_spec('pytest') is not None)\n"
    )
    run_env = {**env, "GENESYS_START_DATE": "2026-01-01"}
    loaded = subprocess.run(
        [str(python), "-c", probe],
        cwd="/",
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    module_file, dagster_version, k8s_version, has_pytest = loaded.stdout.split()
    assert Path(module_file).is_relative_to(app / ".venv")  # installed into the venv, not read from the copy
    assert (dagster_version, k8s_version) == ("1.13.27", "0.29.27")
    assert has_pytest == "False"  # no dev group in the image
    assert (app / ".venv" / "bin" / "dagster").is_file()  # the image's command
