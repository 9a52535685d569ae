"""The tool wheel alone: `pip install lineage_plane-*.whl` into an empty virtualenv gives a `lineage` that
runs every subcommand, from an empty folder outside the clone (no clone on the path, no extra).

The demo's archive folder is then asked upstream/downstream/impact locally and, copied to a moto
server's bucket, over s3://; runs, replay --dry-run and validate read the same folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from shipping import build
from tests.conftest import REPO, load_examples

pytestmark = pytest.mark.slow

TIMEOUT = 300  # seconds any one step may take (a generous bound, not a timing assertion)
BUCKET = "tool-wheel-archive"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def tool_wheel(artifacts: Path) -> Path:
    (wheel,) = (artifacts / build.TOOL_DIR).glob("lineage_plane-*.whl")
    return wheel


@pytest.fixture(scope="module")
def lineage(tool_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `lineage` script of a fresh virtualenv holding the tool wheel and what it requires, only."""
    venv = tmp_path_factory.mktemp("tool-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(tool_wheel)],
        check=True,
        timeout=TIMEOUT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    return venv / "bin" / "lineage"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty working folder, outside the clone."""
    path = tmp_path_factory.mktemp("empty")
    assert not path.is_relative_to(REPO)
    return path


def environment(folder: Path, **extra: str) -> dict[str, str]:
    """No clone on any path, no AWS setup from the machine, caches and temporary files in ``folder``."""
    ambient = ("PYTHONPATH", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in ambient and not k.startswith(("LINEAGE_", "AWS_"))}
    env.update(
        PATH=os.defpath,
        TMPDIR=str(folder),
        XDG_CACHE_HOME=str(folder / ".cache"),
        AWS_CONFIG_FILE=str(folder / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(folder / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def run(lineage: Path, folder: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(lineage), *argv],
        capture_output=True,
        text=True,
        cwd=folder,
        env=environment(folder, **env),
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def demo(lineage: Path, folder: Path) -> Path:
    """`lineage demo` once; the archive folder it leaves."""
    result = run(lineage, folder, "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lineage events, every one valid against schema" in result.stdout
    assert "Traceback" not in result.stderr
    archive = folder / "lineage-demo"
    assert list((archive / "events").rglob("*.json.gz"))
    return archive


def test_the_wheel_carries_the_core_its_queries_the_handlers_and_the_seed_job(tool_wheel: Path) -> None:
    names = set(zipfile.ZipFile(tool_wheel).namelist())
    queries = {f"lineage_plane/queries/{p.name}" for p in (REPO / "lineage_plane" / "queries").glob("*.sql")}
    assert queries
    assert queries <= names
    assert {
        "lineage_lib/__init__.py",
        "lineage_lib/_schemas/lineage-event/1.0/schema.json",
        "lineage_plane/ingest.py",
        "lineage_cli/main.py",
        "lineage_local/demo.py",
        "lambdas/validator/handler.py",
        "lambdas/glue_bridge/reconciler.py",
        "lineage_local/_seed/orders_daily/glue_job.py",
    } <= names
    assert not [n for n in names if n.startswith(("tests/", "infra/", "shipping/", "examples/", "bench/"))]


def test_lineage_runs_from_the_wheel_not_from_a_clone(lineage: Path, folder: Path) -> None:
    probe = [
        str(lineage.with_name("python")),
        "-c",
        "import lineage_cli, lineage_plane; print(lineage_cli.__file__)",
    ]
    where = subprocess.run(
        probe, capture_output=True, text=True, cwd=folder, env=environment(folder), check=True
    )
    assert "site-packages" in where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(REPO)


@pytest.mark.parametrize(
    ("question", "name", "expected"),
    [
        ("upstream", "analytics_db.orders_daily.revenue", "raw_db.orders_raw.order_total"),
        ("downstream", "raw_db.orders_raw", "analytics_db.orders_daily"),
        ("impact", "raw_db.orders_raw", "analytics_db.orders_daily"),
    ],
)
def test_questions_over_the_local_archive(
    lineage: Path, folder: Path, demo: Path, question: str, name: str, expected: str
) -> None:
    result = run(lineage, folder, question, name, "--archive", str(demo))
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


@pytest.fixture(scope="module")
def s3_endpoint(demo: Path) -> Iterator[str]:
    """A moto server whose bucket holds a copy of the demo's archive."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client(
            "s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t"
        )
        s3.create_bucket(Bucket=BUCKET)
        for path in sorted(demo.rglob("*.json.gz")):
            s3.upload_file(str(path), BUCKET, path.relative_to(demo).as_posix())
        yield endpoint
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("question", "name", "expected"),
    [
        ("upstream", "analytics_db.orders_daily.revenue", "raw_db.orders_raw.order_total"),
        ("downstream", "raw_db.orders_raw", "analytics_db.orders_daily"),
        ("impact", "raw_db.orders_raw", "analytics_db.orders_daily"),
    ],
)
def test_questions_over_s3(
    lineage: Path, folder: Path, s3_endpoint: str, question: str, name: str, expected: str
) -> None:
    result = run(
        lineage, folder, question, name, "--archive", f"s3://{BUCKET}", "--region", REGION,
        AWS_ENDPOINT_URL=s3_endpoint, AWS_ACCESS_KEY_ID="t", AWS_SECRET_ACCESS_KEY="t",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_runs_over_the_demo_archive(lineage: Path, folder: Path, demo: Path) -> None:
    summary = run(lineage, folder, "runs", "--archive", str(demo), "--format", "json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["attempts"] == 4
    result = run(lineage, folder, "runs", "--archive", str(demo), "--incomplete", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert {"orders-daily", "orders-export"} <= set(result.stdout.replace('"', " ").split())


def test_replay_dry_run_writes_nothing(lineage: Path, folder: Path, demo: Path) -> None:
    before = sorted(p.relative_to(demo) for p in demo.rglob("*"))
    result = run(lineage, folder, "replay", "--archive", str(demo), "--dry-run", "--format", "json")
    # Exit 1 (findings): the demo's quarantined lines (bad JSON, a legacy version) stay refused.
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert report["still_refused"] == {"invalid_json": 1, "unknown_schema_version": 1}
    assert sorted(p.relative_to(demo) for p in demo.rglob("*")) == before


def test_validate_reports_the_bad_lines_and_passes_the_good(lineage: Path, folder: Path) -> None:
    good = [json.dumps(event) for _, event in load_examples("valid")]
    bad = [json.dumps(event) for _, event in load_examples("invalid")]
    events = folder / "events.jsonl"
    events.write_text("\n".join([*good, *bad, "not json"]) + "\n")
    result = run(lineage, folder, "validate", str(events))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{len(good)} valid" in result.stdout + result.stderr
    only_good = folder / "good.jsonl"
    only_good.write_text("\n".join(good) + "\n")
    assert run(lineage, folder, "validate", str(only_good)).returncode == 0
