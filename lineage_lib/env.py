"""Names of every environment variable and job argument lineage_lib reads: the one place they live.

Precedence for every setting: explicit argument, then the ``LINEAGE_*`` environment variable, then
the job argument of the same name (``--LINEAGE_PIPELINE_ID`` in a Glue job's parameters, since Glue
jobs take parameters rather than environment variables), then what the platform tells, then the default.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "LINEAGE_"

# lineage_lib's own settings (also accepted as Glue job arguments: --LINEAGE_PIPELINE_ID value).
PIPELINE_ID: Final = "LINEAGE_PIPELINE_ID"
RUN_ID: Final = "LINEAGE_RUN_ID"
ATTEMPT: Final = "LINEAGE_ATTEMPT"
PLATFORM: Final = "LINEAGE_PLATFORM"
SFN_EXECUTION_ARN: Final = "LINEAGE_SFN_EXECUTION_ARN"
EMR_STEP_ID: Final = "LINEAGE_EMR_STEP_ID"
MODE: Final = "LINEAGE_MODE"  # strict (default) | lenient
SINK: Final = "LINEAGE_SINK"  # stdout (default) | cloudwatch
LOG_GROUP: Final = "LINEAGE_LOG_GROUP"  # required by the cloudwatch sink
LOG_STREAM: Final = "LINEAGE_LOG_STREAM"  # optional, generated when absent
HANDLE_SIGNALS: Final = "LINEAGE_HANDLE_SIGNALS"  # 1 (default) | 0: leave SIGTERM alone
# Seconds the process may spend delivering buffered lineage when it stops (SIGTERM, exit): see
# lineage_lib._lifecycle. Well inside the platforms' grace between SIGTERM and SIGKILL.
STOP_TIMEOUT: Final = "LINEAGE_STOP_TIMEOUT"
DEFAULT_STOP_TIMEOUT: Final = 3.0
# Where EMR on EC2's cluster description is read from (detection of EMR; tests, unusual images).
EMR_JOB_FLOW_FILE_PATH: Final = "LINEAGE_EMR_JOB_FLOW_FILE"

OWN_SETTINGS: Final[tuple[str, ...]] = (
    PIPELINE_ID,
    RUN_ID,
    ATTEMPT,
    PLATFORM,
    SFN_EXECUTION_ARN,
    EMR_STEP_ID,
    MODE,
    SINK,
    LOG_GROUP,
    LOG_STREAM,
    HANDLE_SIGNALS,
    STOP_TIMEOUT,
    EMR_JOB_FLOW_FILE_PATH,
)

# The lineage CLI's settings (not lineage_lib's: jobs never read them).
CLI_RUN_STATE_TABLE: Final = "LINEAGE_RUN_STATE_TABLE"  # `lineage runs`: the run-state table's name

# What the platforms set, read to detect where the job runs.
AWS_REGION: Final = "AWS_REGION"
AWS_DEFAULT_REGION: Final = "AWS_DEFAULT_REGION"
LAMBDA_FUNCTION_NAME: Final = "AWS_LAMBDA_FUNCTION_NAME"
LAMBDA_FUNCTION_VERSION: Final = "AWS_LAMBDA_FUNCTION_VERSION"

# Glue job arguments (sys.argv of a Glue job: --JOB_NAME name --JOB_RUN_ID jr_...).
GLUE_JOB_NAME: Final = "JOB_NAME"
GLUE_JOB_RUN_ID: Final = "JOB_RUN_ID"
GLUE_WORKFLOW_NAME: Final = "WORKFLOW_NAME"
GLUE_WORKFLOW_RUN_ID: Final = "WORKFLOW_RUN_ID"

# EMR on EC2 writes the cluster description on every node; steps run from a folder named by step id.
# The default of EMR_JOB_FLOW_FILE_PATH.
EMR_JOB_FLOW_FILE: Final = "/mnt/var/lib/info/job-flow.json"
