"""Where is this job running? Glue, EMR, Lambda or a local process, and under which identifiers.

Detection needs no AWS SDK and no ``awsglue``: Glue jobs are recognised by their ``--JOB_RUN_ID``
argument, Lambda by ``AWS_LAMBDA_FUNCTION_NAME``, EMR on EC2 by the cluster description every node
carries. Every input is injectable so that tests (and unusual hosts) can state them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lineage_lib import env
from lineage_lib.contract import Platform
from lineage_lib.errors import LineageConfigError

# A retried Glue run is a new run whose id carries the attempt: jr_<hex>_attempt_<n>.
_GLUE_ATTEMPT = re.compile(r"^(?P<base>.+?)_attempt_(?P<attempt>[0-9]+)$")
# EMR runs a step's command from /mnt/var/lib/hadoop/steps/<step id>.
_EMR_STEP_DIR = re.compile(r"/steps/(?P<step>s-[A-Z0-9]+)(/|$)")


@dataclass(frozen=True)
class ExecutionContext:
    """The platform identifiers of this process, and the run identity they imply."""

    platform: str
    pipeline_id: str
    run_id: str
    attempt: int
    job_name: str | None = None
    job_run_id: str | None = None
    workflow_name: str | None = None
    workflow_run_id: str | None = None
    cluster_id: str | None = None
    step_id: str | None = None
    function_name: str | None = None
    function_version: str | None = None
    request_id: str | None = None
    sfn_execution_arn: str | None = None
    region: str | None = None
    host: str | None = None

    def to_event(self) -> dict[str, Any]:
        """The event's ``context`` object: the platform and every identifier that is known."""
        skip = ("pipeline_id", "run_id", "attempt")
        return {k: v for k, v in asdict(self).items() if v is not None and k not in skip}


def parse_job_arguments(argv: Sequence[str]) -> dict[str, str]:
    """``--KEY value`` and ``--KEY=value`` pairs, as Glue passes job parameters (no awsglue needed)."""
    args: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and len(token) > 2:
            key, eq, value = token[2:].partition("=")
            if eq:
                args[key] = value
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                args[key] = argv[i + 1]
                i += 1
            else:
                args[key] = ""
        i += 1
    return args


def _setting(name: str, explicit: Any, environ: Mapping[str, str], job_args: Mapping[str, str]) -> Any:
    if explicit is not None:
        return explicit
    value = environ.get(name) or job_args.get(name)
    return value or None


def _script_name(argv: Sequence[str]) -> str:
    script = Path(argv[0]).stem if argv and argv[0] not in ("", "-c", "-m") else ""
    return script or "local"


def _emr_cluster_id(job_flow_file: str) -> str | None:
    try:
        with open(job_flow_file, encoding="utf-8") as handle:
            value = json.load(handle).get("jobFlowId")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) and value else None


def _attempt(value: Any, source: str) -> int:
    try:
        attempt = int(value)
    except (TypeError, ValueError):
        attempt = -1
    if attempt < 0:
        raise LineageConfigError(f"{source} must be a whole number >= 0 (0 = first attempt), got {value!r}")
    return attempt


def _glue_identity(job_args: Mapping[str, str]) -> tuple[dict[str, Any], str | None, int]:
    """Glue identifiers, and the run id and attempt they imply (a retry's id ends in _attempt_<n>)."""
    job_run_id = job_args.get(env.GLUE_JOB_RUN_ID) or None
    ids = {
        "job_name": job_args.get(env.GLUE_JOB_NAME) or None,
        "job_run_id": job_run_id,
        "workflow_name": job_args.get(env.GLUE_WORKFLOW_NAME) or None,
        "workflow_run_id": job_args.get(env.GLUE_WORKFLOW_RUN_ID) or None,
    }
    if not job_run_id:
        return ids, None, 0
    retry = _GLUE_ATTEMPT.match(job_run_id)
    if retry:
        return ids, retry.group("base"), int(retry.group("attempt"))
    return ids, job_run_id, 0


def glue_run_identity(job_name: str, job_run_id: str, arguments: Mapping[str, str]) -> tuple[str, str, int]:
    """(pipeline id, run id, attempt) that lineage_lib reports from inside Glue job run ``job_run_id``
    of ``job_name``, whose job parameters are ``arguments`` (``--KEY``: value, as GetJobRun lists
    them): what an observer outside the job (the plane's Glue bridge) needs to find the same run."""
    job_args = {key[2:] if key.startswith("--") else key: value for key, value in arguments.items()}
    job_args[env.GLUE_JOB_NAME], job_args[env.GLUE_JOB_RUN_ID] = job_name, job_run_id
    _, default_run, default_attempt = _glue_identity(job_args)
    explicit_attempt = job_args.get(env.ATTEMPT) or None
    return (
        job_args.get(env.PIPELINE_ID) or job_name,
        job_args.get(env.RUN_ID) or default_run or job_run_id,
        default_attempt if explicit_attempt is None else _attempt(explicit_attempt, env.ATTEMPT),
    )


def _lambda_identity(
    function_name: str | None, environ: Mapping[str, str], lambda_context: Any
) -> tuple[dict[str, Any], str | None]:
    """Lambda identifiers; the run is the invocation (its request id)."""
    request_id = getattr(lambda_context, "aws_request_id", None)
    version = environ.get(env.LAMBDA_FUNCTION_VERSION) or getattr(lambda_context, "function_version", None)
    ids = {"function_name": function_name, "function_version": version, "request_id": request_id}
    return ids, request_id


def _emr_identity(
    cluster_id: str | None, environ: Mapping[str, str], cwd: str | None
) -> tuple[dict[str, Any], str | None]:
    """EMR identifiers; the run is the step (cluster id / step id) when both are known."""
    step = environ.get(env.EMR_STEP_ID)
    if not step:
        found = _EMR_STEP_DIR.search(cwd if cwd is not None else os.getcwd())
        step = found.group("step") if found else None
    run_id = f"{cluster_id}/{step}" if cluster_id and step else None
    return {"cluster_id": cluster_id, "step_id": step}, run_id


def _hostname() -> str | None:
    try:
        return socket.gethostname() or None
    except OSError:  # pragma: no cover - hostname lookup failing is exotic
        return None


def detect(
    *,
    pipeline_id: str | None = None,
    run_id: str | None = None,
    attempt: int | None = None,
    platform: str | None = None,
    sfn_execution_arn: str | None = None,
    lambda_context: Any = None,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    emr_job_flow_file: str | None = None,
    cwd: str | None = None,
) -> ExecutionContext:
    """Detect the execution context. Explicit arguments win over LINEAGE_* settings, which win over
    what the platform says (see lineage_lib.env for the order). ``emr_job_flow_file``: where EMR on
    EC2's cluster description is read (else LINEAGE_EMR_JOB_FLOW_FILE, else EMR's own path)."""
    argv = list(sys.argv if argv is None else argv)
    environ = os.environ if environ is None else environ
    job_args = parse_job_arguments(argv[1:])
    lambda_name = environ.get(env.LAMBDA_FUNCTION_NAME) or getattr(lambda_context, "function_name", None)
    job_flow_file = _setting(env.EMR_JOB_FLOW_FILE_PATH, emr_job_flow_file, environ, job_args)
    cluster_id = _emr_cluster_id(job_flow_file or env.EMR_JOB_FLOW_FILE)

    kind = _setting(env.PLATFORM, platform, environ, job_args)
    if kind is not None and kind not in Platform.ALL:
        raise LineageConfigError(f"{env.PLATFORM}={kind!r}: choose one of {', '.join(Platform.ALL)}")
    if not kind:
        if job_args.get(env.GLUE_JOB_RUN_ID):
            kind = Platform.GLUE
        elif lambda_name:
            kind = Platform.LAMBDA
        elif cluster_id:
            kind = Platform.EMR
        else:
            kind = Platform.LOCAL

    default_pipeline = _script_name(argv)
    default_run: str | None = None
    default_attempt = 0
    ids: dict[str, Any] = {}
    if kind == Platform.GLUE:
        ids, default_run, default_attempt = _glue_identity(job_args)
        default_pipeline = ids["job_name"] or default_pipeline
    elif kind == Platform.LAMBDA:
        ids, default_run = _lambda_identity(lambda_name, environ, lambda_context)
        default_pipeline = lambda_name or default_pipeline
    elif kind == Platform.EMR:
        ids, default_run = _emr_identity(cluster_id, environ, cwd)
    ids["sfn_execution_arn"] = _setting(env.SFN_EXECUTION_ARN, sfn_execution_arn, environ, job_args)
    ids["region"] = environ.get(env.AWS_REGION) or environ.get(env.AWS_DEFAULT_REGION)
    ids["host"] = _hostname()

    explicit_attempt = _setting(env.ATTEMPT, attempt, environ, job_args)
    return ExecutionContext(
        platform=kind,
        pipeline_id=_setting(env.PIPELINE_ID, pipeline_id, environ, job_args) or default_pipeline,
        run_id=_setting(env.RUN_ID, run_id, environ, job_args) or default_run or str(uuid.uuid4()),
        attempt=default_attempt if explicit_attempt is None else _attempt(explicit_attempt, env.ATTEMPT),
        **{k: v for k, v in ids.items() if v},
    )
