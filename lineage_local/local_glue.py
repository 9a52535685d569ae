"""Glue job runs that ended in any state, held by moto's Glue: for the local plane and the tests.

moto's Glue takes every job run straight to SUCCEEDED as attempt 0, and Glue's API has no call that
makes a run fail (only the job can). ``record_run`` starts the run with the real StartJobRun call (a
retry passes the run it retries, as Glue's own retries do), then sets on moto's run what Glue would
report for it: its state, attempt, retry id (``<first run id>_attempt_<n>``), error and times. Every
read afterwards goes through the real GetJobRun call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.glue.models import glue_backends


def record_run(
    glue: Any,
    job_name: str,
    *,
    state: str,
    started_on: datetime,
    duration: timedelta = timedelta(minutes=5),
    attempt: int = 0,
    retry_of: str | None = None,
    first_run_id: str | None = None,
    job_run_id: str | None = None,
    error_message: str | None = None,
    arguments: Mapping[str, str] | None = None,
    account: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """A run of ``job_name`` that ended in ``state`` (RUNNING: not ended); its JobRunId.

    A retry (``attempt`` > 0) names the run it retries (``retry_of``) and the first attempt's id
    (``first_run_id``), from which Glue names it. ``job_run_id`` names the run instead (the local
    plane's jobs ran before moto's Glue existed, under ids of their own).
    """
    run_id = glue.start_job_run(
        JobName=job_name, Arguments=dict(arguments or {}), **({"JobRunId": retry_of} if retry_of else {})
    )["JobRunId"]
    run = glue_backends[account][glue.meta.region_name].jobs[job_name].get_job_run(run_id)
    if job_run_id:
        run.job_run_id = job_run_id
    elif attempt:
        run.job_run_id = f"{first_run_id or retry_of}_attempt_{attempt}"
    run.status = state
    ended = state != "RUNNING"
    run.started_on = started_on
    run.modified_on = started_on + (duration if ended else timedelta(0))
    run.completed_on = started_on + duration if ended else None  # type: ignore[assignment]
    described = run.as_dict

    def as_dict() -> dict[str, Any]:
        fields = described()
        # moto's state machine would move a RUNNING run on to SUCCEEDED when read: hold it
        fields.update(
            JobRunState=state, Attempt=attempt, ExecutionTime=int(duration.total_seconds()) if ended else 0
        )
        if not ended:
            fields.pop("CompletedOn", None)
        if error_message:
            fields["ErrorMessage"] = error_message
        return fields

    run.as_dict = as_dict  # type: ignore[method-assign]  # moto's own run, described as Glue would
    return str(run.job_run_id)
