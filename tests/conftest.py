from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas" / "lineage-event"


def load_examples(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(version/name, content) of every example of one kind ("valid" or "invalid")."""
    return [
        (f"{path.parent.parent.parent.name}/{path.stem}", json.loads(path.read_text()))
        for path in sorted(SCHEMAS.glob(f"*/examples/{kind}/*.json"))
    ]


@pytest.fixture(autouse=True)
def _no_ambient_lineage_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no LINEAGE_* or platform variables from the machine they run on."""
    from lineage_lib import env

    for name in (*env.OWN_SETTINGS, env.LAMBDA_FUNCTION_NAME, env.LAMBDA_FUNCTION_VERSION):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _isolated_lifecycle() -> Any:
    """Runs a test leaves open, and sinks it used, must not reach the exit hook of the test process
    (it would flush them at interpreter exit, against AWS endpoints the test had mocked)."""
    yield
    from lineage_lib import _lifecycle, emitter

    with _lifecycle._lock:
        _lifecycle._open_runs.clear()
    for sink in list(emitter._live_sinks):
        emitter._live_sinks.discard(sink)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lineage_lib's packagings, built once per session by the real command's code (``make artifacts``)."""
    from shipping import build

    out = tmp_path_factory.mktemp("artifacts")
    build.build_all(out)
    return out


@pytest.fixture
def datazone() -> Iterator[tuple[Any, Stubber]]:
    """A real boto3 DataZone client answered by botocore's Stubber (moto has no DataZone), and the
    stubber; every response queued must have been asked for."""
    client = boto3.client(
        "datazone", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
