"""The README's promises that code can keep: its two set-up commands come first, the CI entry runs the same
test command, and its DuckDB PIVOT statement runs on the exported lake and gives the queue x interval grid."""

import re
from pathlib import Path

import duckdb

from genesys_assets_tests.pipeline_fixtures import EXPORT_PREFIX, Pipeline

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_readme_opens_with_the_demo_and_test_commands_and_ci_runs_the_same() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None and README.index("```bash") < README.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "README" in ci


def test_readme_pivot_gives_the_queue_by_interval_grid(pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline.directory()
    pipeline.daily("2026-11-01")
    for key, body in pipeline.s3_objects().items():
        target = tmp_path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)

    statement = re.search(r"<!-- readme-pivot -->\n```sql\n(.*?)```", README, re.S)
    assert statement is not None
    sql = statement.group(1).replace("s3://BUCKET/PREFIX", str(tmp_path / EXPORT_PREFIX))
    grid = duckdb.sql(sql).pl()

    exported = pipeline.export_frame("daily", "2026-11-01").filter(media_type="voice")
    assert grid.height == exported["queue_id"].n_unique() > 0
    assert grid.width == 1 + 50  # queue_name + every half-hour of the 25-hour fall-back day
    assert "01:30 -04:00" in grid.columns and "01:30 -05:00" in grid.columns
    assert int(grid.drop("queue_name").sum_horizontal().sum()) == int(exported["offered"].sum())
