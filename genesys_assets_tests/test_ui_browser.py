"""The Dagster UI of the demo, driven in headless Chromium as an analyst uses it.

`python -m genesys_assets.demo` starts the sandbox Genesys org and a moto S3 on 127.0.0.1, materializes the
last three local days, then runs `dagster dev` (webserver and daemon). The tests open the asset graph, launch
one partition of `queue_export_daily` from the asset page, read its metadata and plots, and launch a backfill
of a range of partitions that the daemon carries out. What the UI shows is compared with the Parquet objects
in the demo's S3. Screenshots go to test-output/ui/ at the repository root.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from genesys_assets.demo import EXPORT_PREFIX as DEMO_PREFIX
from genesys_assets.lake.export_writer import export_key
from genesys_assets_tests.s3_fixtures import s3_client_for
from genesys_assets_tests.ui_helpers import ServiceProcess, free_port, wait_http

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "test-output" / "ui"
CHROMIUM = "/usr/bin/chromium"
ASSET = "queue_export_daily"
ASSETS = [
    "genesys_queues",
    "raw_queue_aggregates",
    "queue_interval_kpis",
    "queue_kpis_daily",
    "queue_kpis_weekly",
    "queue_export_daily",
    "queue_export_weekly",
]
DEMO_READY_S = 300  # three days materialized in-process, then `dagster dev` loads (about 90 s on 2 cores)
RUN_TIMEOUT_MS = 180_000
BACKFILL_TIMEOUT_S = 300  # the backfill daemon looks for new backfills every 30 s
# How long an `expect` waits for the UI to show something (Playwright's default is 5 s). The UI renders in a
# few seconds, slower while the rest of the suite loads both cores; waiting longer costs nothing when it is fast.
expect.set_options(timeout=30_000)


@dataclass
class Demo:
    url: str
    days: list[str]  # the local days the demo materialized, oldest first
    s3_url: str
    bucket: str
    prefix: str = DEMO_PREFIX

    def export_key(self, day: str) -> str:
        return export_key(self.prefix, "daily", day)

    def s3(self) -> Any:
        return s3_client_for(self.s3_url)

    def modified(self, day: str) -> datetime:
        return self.s3().head_object(Bucket=self.bucket, Key=self.export_key(day))["LastModified"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; run `bash scripts/system-packages.sh`.")
    root = tmp_path_factory.mktemp("ui")
    port = free_port()
    service = ServiceProcess(
        "demo",
        [
            sys.executable,
            "-m",
            "genesys_assets.demo",
            "--port",
            str(port),
            "--dagster-home",
            str(root / "dagster_home"),
            "--days",
            "3",
            "--queues",
            "4",
        ],
        log_dir=root,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"},
        cwd=REPO,
    )
    try:
        service.wait_for_output("demo: Dagster UI on", timeout=DEMO_READY_S)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/server_info", timeout=120, service=service)
        output = service.log_path.read_text(errors="replace")
        first, last = re.search(r"running genesys_daily_job (\S+)\.\.\.(\S+)", output).groups()
        s3_url, bucket = re.search(r"S3 at (\S+), bucket (\S+)", output).groups()
        start, end = date.fromisoformat(first), date.fromisoformat(last)
        days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        yield Demo(url=url, days=days, s3_url=s3_url, bucket=bucket)
    finally:
        service.stop(timeout=30, sig=signal.SIGINT)  # Ctrl+C, as a user ends the demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    # A first visit may show a "Join the Dagster community" dialog; a user skips it.
    tab.add_locator_handler(tab.get_by_role("button", name="Skip", exact=True), lambda skip: skip.click())
    try:
        yield tab
    finally:
        context.close()


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    return path


def _open_launch_dialog(page: Page, demo: Demo, selection: str, expected_count: str) -> Any:
    page.goto(f"{demo.url}/assets/{ASSET}")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Launch runs to materialize {ASSET}")
    partitions = dialog.get_by_placeholder("No matching partitions")
    partitions.fill(selection)
    partitions.press("Enter")
    expect(dialog).to_contain_text(expected_count)
    return dialog


def test_asset_graph_shows_the_whole_chain(page: Page, demo: Demo) -> None:
    # The catalog lists every asset of the chain with its group and partition status.
    page.goto(f"{demo.url}/assets")
    for name in ASSETS:
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    expect(page.get_by_text("Materialized").first).to_be_visible()  # the unpartitioned queue directory

    page.goto(f"{demo.url}/asset-groups")
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")
    for group in ("genesys_raw", "queue_kpis", "lake_export"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    # The zoomed-out graph shortens long names (raw_qu…_aggregates); these four fit and show in full.
    for name in ("genesys_queues", "queue_kpis_daily", "queue_kpis_weekly", ASSET):
        expect(page.get_by_text(name, exact=True).last).to_be_visible()
    shot(page, "01-asset-graph.png")

    # Selecting a node opens its summary; from there the analyst opens the asset's page.
    page.get_by_text(ASSET, exact=True).last.click()
    expect(page.get_by_text("Backfills all partitions in a single run")).to_be_visible()
    page.get_by_role("link", name="View in Asset Catalog").click()
    expect(page).to_have_url(re.compile(rf"/assets/{ASSET}"))
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(page.get_by_text(demo.days[-1], exact=True).first).to_be_visible()


CHECK_STATUSES = """
query CheckStatuses($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            partitionStatuses { ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } }
          }
        }
      }
    }
  }
}
"""


def test_checks_show_a_status_for_every_partition(page: Page, demo: Demo) -> None:
    # The demo materialized its days in one range run; each check still has a status per partition.
    for asset, names in (
        ("raw_queue_aggregates", ["raw_data_contract"]),
        ("queue_kpis_daily", ["daily_kpi_contract", "daily_interpolated_share", "daily_provisional_rows"]),
    ):
        answer = httpx.post(
            f"{demo.url}/graphql", json={"query": CHECK_STATUSES, "variables": {"path": [asset]}}, timeout=60
        ).json()
        checks = {c["name"]: c for c in answer["data"]["assetNodeOrError"]["assetChecksOrError"]["checks"]}
        for name in names:
            ranges = checks[name]["partitionStatuses"]["ranges"]
            evaluated = [r for r in ranges if r["status"] in ("SUCCEEDED", "FAILED")]
            assert evaluated, (asset, name, ranges)
            assert evaluated[0]["startKey"] <= demo.days[0] and evaluated[-1]["endKey"] >= demo.days[-1]
    page.goto(f"{demo.url}/assets/raw_queue_aggregates?view=checks")
    expect(page.get_by_text("raw_data_contract").first).to_be_visible()
    shot(page, "08-checks-per-partition.png")


def test_one_partition_from_the_ui_with_its_metadata_and_plots(page: Page, demo: Demo) -> None:
    day = demo.days[1]
    before = demo.modified(day)
    dialog = _open_launch_dialog(page, demo, day, "1 partition")
    shot(page, "02-launch-one-partition.png")
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(page.get_by_text("Launched run")).to_be_visible()
    run_path = page.get_by_role("link", name="View", exact=True).first.get_attribute("href")
    assert run_path and re.fullmatch(r"/runs/[0-9a-f-]{36}", run_path), run_path
    run_id = run_path.rsplit("/", 1)[-1]

    page.goto(f"{demo.url}{run_path}")
    expect(page.get_by_text(f"partition: {day}")).to_be_visible()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    shot(page, "03-run-success.png")

    # The materialization's metadata: the analyst's row count and where the file is.
    page.goto(f"{demo.url}/assets/{ASSET}?view=events")
    expect(page.get_by_text(f"Partition {day} materialized in run {run_id[:8]}")).to_be_visible()
    uri = f"s3://{demo.bucket}/{demo.export_key(day)}"
    expect(page.get_by_text(uri, exact=True).first).to_be_visible()
    shot(page, "04-materialization-metadata.png")
    text = page.inner_text("body")
    shown_rows = int(re.search(r"dagster/row_count\s+(\d+)", text).group(1))
    body = demo.s3().get_object(Bucket=demo.bucket, Key=demo.export_key(day))["Body"].read()
    assert pl.read_parquet(body).height == shown_rows > 0
    assert demo.modified(day) > before  # the run rewrote the day's object

    # Numeric metadata plotted over the partitions.
    page.goto(f"{demo.url}/assets/{ASSET}")
    page.get_by_text("Plots", exact=True).first.click()
    for title in ("dagster/row_count", "total_offered", "service_level", "aht_s"):
        expect(page.get_by_text(title, exact=True).first).to_be_visible()
    # The x axis is the partition key (the "Partitions" toggle), not the event time; the axes are drawn on
    # the canvas.
    expect(page.get_by_role("button", name=re.compile(r"Partitions$"))).to_be_visible()
    plots = page.locator("canvas")
    expect(plots.first).to_be_visible()
    assert plots.count() >= 4
    page.get_by_text("Metadata", exact=True).first.scroll_into_view_if_needed()
    shot(page, "05-metadata-plots.png")


def test_backfill_of_a_partition_range_from_the_ui(page: Page, demo: Demo) -> None:
    first, last = demo.days[0], demo.days[-1]
    before = {day: demo.modified(day) for day in demo.days}
    dialog = _open_launch_dialog(page, demo, f"[{first}...{last}]", f"{len(demo.days)} partitions")
    expect(dialog).to_contain_text("Backfills all partitions in a single run")
    shot(page, "06-launch-backfill.png")
    dialog.get_by_role("button", name="Launch backfill").click()
    expect(page.get_by_text("Created backfill")).to_be_visible()
    backfill_path = page.get_by_role("link", name="View", exact=True).first.get_attribute("href")
    assert backfill_path and re.fullmatch(r"/runs/b/\w+", backfill_path), backfill_path

    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while True:
        page.goto(f"{demo.url}{backfill_path}")
        expect(page.get_by_text(f"{first}...{last}")).to_be_visible()
        text = page.inner_text("body")
        if re.search(r"Status\s+Succeeded", text) and "100% completed" in text:
            break
        assert not re.search(r"Status\s+(Failed|Canceled|Completed with failures)", text), text[:2000]
        assert time.monotonic() < deadline, f"backfill not done after {BACKFILL_TIMEOUT_S} s:\n{text[:2000]}"
        page.wait_for_timeout(5_000)
    shot(page, "07-backfill-succeeded.png")
    assert all(demo.modified(day) > before[day] for day in demo.days)  # one run rewrote every day's object
