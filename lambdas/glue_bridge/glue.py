"""Glue's account of a job run: GetJobRun and GetJob, read into a ``GlueRun`` (boto3 client injected)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.common.errors import PlaneError
from lineage_plane.observation import GlueRun

_NOT_FOUND = "EntityNotFoundException"


class GlueRunNotFoundError(PlaneError):
    """Glue has no record of the job run: the job was deleted, the run is older than Glue keeps runs
    (90 days), or it belongs to another account or region."""

    def __init__(self, job_name: str, job_run_id: str, detail: str) -> None:
        self.job_name = job_name
        self.job_run_id = job_run_id
        super().__init__(
            f"Glue has no job run {job_run_id!r} of job {job_name!r} ({detail}); it is recorded from "
            "what the state-change event says, if there is one. Check that the plane runs in the job's "
            "account and region"
        )


@dataclass(frozen=True)
class GlueStateChange:
    """The ``detail`` of an EventBridge "Glue Job State Change" event, with the event's envelope."""

    job_name: str
    job_run_id: str
    state: str
    message: str | None
    time: datetime  # the event's time: when Glue reported the change
    account: str
    region: str

    @classmethod
    def from_event(cls, detail: dict[str, Any], *, time: str, account: str, region: str) -> GlueStateChange:
        return cls(
            job_name=detail["jobName"],
            job_run_id=detail["jobRunId"],
            state=detail["state"],
            message=detail.get("message") or None,
            time=datetime.fromisoformat(time.replace("Z", "+00:00")),
            account=account,
            region=region,
        )

    def as_run(self) -> GlueRun:
        """What the event alone says, for a run Glue's API no longer describes."""
        return GlueRun(
            job_name=self.job_name,
            job_run_id=self.job_run_id,
            state=self.state,
            error_message=self.message if self.state != "SUCCEEDED" else None,
            completed_on=self.time,
        )


class GlueRuns:
    """Reads job runs from Glue. ``client`` is a boto3 Glue client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def describe(self, job_name: str, job_run_id: str) -> GlueRun:
        """The run as Glue describes it; GlueRunNotFoundError when Glue has no record of it."""
        try:
            run = self._client.get_job_run(JobName=job_name, RunId=job_run_id)["JobRun"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == _NOT_FOUND:
                raise GlueRunNotFoundError(job_name, job_run_id, "GetJobRun: not found") from err
            raise
        job = self._job(job_name)
        command = job.get("Command") or {}
        arguments = {**(job.get("DefaultArguments") or {}), **(run.get("Arguments") or {})}
        return GlueRun(
            job_name=job_name,
            job_run_id=run.get("Id", job_run_id),
            state=run.get("JobRunState", "RUNNING"),
            attempt=int(run.get("Attempt") or 0),
            previous_run_id=run.get("PreviousRunId") or None,
            started_on=run.get("StartedOn"),
            completed_on=run.get("CompletedOn"),
            execution_seconds=run.get("ExecutionTime"),
            error_message=run.get("ErrorMessage") or None,
            arguments=arguments,
            script_location=command.get("ScriptLocation"),
            glue_version=run.get("GlueVersion") or job.get("GlueVersion"),
        )

    def _job(self, job_name: str) -> dict[str, Any]:
        """The job's definition; empty when the job was deleted after its run (the run is still read)."""
        try:
            job: dict[str, Any] = self._client.get_job(JobName=job_name)["Job"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == _NOT_FOUND:
                return {}
            raise
        return job
