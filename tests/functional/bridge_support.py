"""Helpers of the Glue bridge's and the run reconciler's functional tests: Glue on moto, events, reads.

Glue is moto's: jobs are created with CreateJob, runs with StartJobRun and given their end by
lineage_local.local_glue (moto runs every job to SUCCEEDED on its own). Lineage reaches the plane as
in the validator's tests: lineage_lib's lines, packed in a subscription payload, through the handler.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from lambdas.glue_bridge import handler as bridge_handler
from lambdas.glue_bridge import reconciler as reconciler_handler
from lineage_local.local_glue import record_run
from lineage_local.local_plane import LOCAL_REGION, LambdaContext, emf_totals
from lineage_plane.run_table import RunStateTable, attempt_sk, run_pk
from tests.conftest import REPO
from tests.functional.validator_support import Plane, glue_payload, local_plane, log_events

T = RunStateTable
EVENTS_DIR: Final = REPO / "tests" / "events" / "glue_bridge"
ACCOUNT: Final = "123456789012"
ROLE: Final = f"arn:aws:iam::{ACCOUNT}:role/orders-daily-glue"
STARTED: Final = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def state_change(job: str, run_id: str, state: str, *, time: str = "2026-11-21T03:12:01Z") -> dict[str, Any]:
    """The EventBridge event Glue sends when ``run_id`` of ``job`` reaches ``state``."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / "glue-job-state-change-failed.json").read_text())
    event = copy.deepcopy(event)
    event["time"] = time
    event["detail"].update(jobName=job, jobRunId=run_id, state=state)
    if state == "SUCCEEDED":
        event["detail"].update(severity="INFO", message="Job run succeeded")
    return event


@dataclass
class BridgePlane:
    """The validator's plane on moto, with moto's Glue and the bridge's and reconciler's handlers."""

    plane: Plane
    glue: Any

    def job(self, name: str, arguments: Mapping[str, str] | None = None) -> str:
        self.glue.create_job(
            Name=name,
            Role=ROLE,
            Command={"Name": "glueetl", "ScriptLocation": f"s3://acme-jobs/{name}.py"},
            DefaultArguments=dict(arguments or {}),
            ExecutionProperty={"MaxConcurrentRuns": 20},
            GlueVersion="5.0",
        )
        return name

    def run(self, job: str, state: str, **kwargs: Any) -> str:
        kwargs.setdefault("started_on", STARTED)
        return record_run(self.glue, job, state=state, **kwargs)

    def lineage(self, lines: Sequence[str], stream: str = "jr-lines") -> dict[str, int]:
        """Deliver lineage_lib's lines to the validator, as the subscription on Glue's output would."""
        return self.plane.invoke(glue_payload(log_events(lines), stream))

    def bridge(self, event: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = bridge_handler.handler(dict(event), LambdaContext())
        return result

    def sweep(self, now: datetime) -> dict[str, int]:
        """One scheduled run of the reconciler, at ``now``."""
        reconciler_handler.reconciler(ACCOUNT).clock = lambda: now
        scheduled = {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": LOCAL_REGION,
            "resources": [f"arn:aws:events:{LOCAL_REGION}:{ACCOUNT}:rule/lineage-run-reconciler"],
            "detail": {},
        }
        result: dict[str, int] = reconciler_handler.handler(scheduled, LambdaContext())
        return result

    def attempt(self, pipeline: str, run_id: str, attempt: int) -> dict[str, Any]:
        """The attempt's item as plain values."""
        return self.plane.run_items()[(run_pk(pipeline, run_id), attempt_sk(attempt))]

    def observed_lines(self) -> list[dict[str, Any]]:
        """Archived events written by the plane's observers."""
        return [
            line
            for key, lines in self.plane.archive().items()
            if key.startswith("events/")
            for line in lines
            if "observed_by" in line.get("tags", {})
        ]


def clear_caches() -> None:
    for cached in (bridge_handler.settings, bridge_handler.bridge, reconciler_handler.reconciler):
        cached.cache_clear()


@contextmanager
def bridge_plane() -> Iterator[BridgePlane]:
    clear_caches()
    try:
        with local_plane() as plane:
            from tests.functional.validator_support import session_sharing_models

            glue = session_sharing_models(region_name=LOCAL_REGION).client("glue")
            yield BridgePlane(plane, glue)
    finally:
        clear_caches()


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def metric_total(stdout: str, name: str) -> float:
    """The sum of a metric over the EMF records printed."""
    return float(emf_totals(stdout)[name])
