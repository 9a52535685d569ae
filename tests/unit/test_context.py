"""Execution-context detection for Glue, EMR, Lambda, Step Functions and local runs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from lineage_lib.context import detect, parse_job_arguments
from lineage_lib.errors import LineageConfigError

NO_EMR = "/nonexistent/job-flow.json"
GLUE_ARGV = [
    "/tmp/orders_daily.py",
    "--JOB_ID",
    "j_0123",
    "--JOB_RUN_ID",
    "jr_5f1c0e9b",
    "--job-bookmark-option",
    "job-bookmark-disable",
    "--JOB_NAME",
    "orders-daily",
    "--TempDir",
    "s3://aws-glue-assets/temporary/",
]


def test_glue_arguments_are_parsed_without_awsglue() -> None:
    assert parse_job_arguments(["--A", "1", "--B=2", "--flag", "--C", "3"]) == {
        "A": "1",
        "B": "2",
        "flag": "",
        "C": "3",
    }


def test_glue_job_run_is_detected_from_its_arguments() -> None:
    ctx = detect(argv=GLUE_ARGV, environ={"AWS_REGION": "eu-west-1"}, emr_job_flow_file=NO_EMR)
    assert (ctx.platform, ctx.pipeline_id, ctx.run_id, ctx.attempt) == (
        "glue",
        "orders-daily",
        "jr_5f1c0e9b",
        0,
    )
    assert ctx.to_event()["job_run_id"] == "jr_5f1c0e9b"
    assert ctx.to_event()["region"] == "eu-west-1"


def test_a_glue_retry_is_the_same_run_with_a_new_attempt() -> None:
    argv = [a.replace("jr_5f1c0e9b", "jr_5f1c0e9b_attempt_2") for a in GLUE_ARGV]
    ctx = detect(argv=argv, environ={}, emr_job_flow_file=NO_EMR)
    assert (ctx.run_id, ctx.attempt) == ("jr_5f1c0e9b", 2)
    assert ctx.job_run_id == "jr_5f1c0e9b_attempt_2"


def test_glue_job_parameters_override_like_environment_variables() -> None:
    argv = [
        *GLUE_ARGV,
        "--LINEAGE_PIPELINE_ID",
        "orders",
        "--LINEAGE_SFN_EXECUTION_ARN",
        "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1",
        "--WORKFLOW_NAME",
        "nightly",
    ]
    ctx = detect(argv=argv, environ={}, emr_job_flow_file=NO_EMR)
    assert ctx.pipeline_id == "orders"
    assert ctx.sfn_execution_arn == "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1"
    assert ctx.workflow_name == "nightly"


def test_explicit_argument_beats_environment_beats_job_argument() -> None:
    argv = [*GLUE_ARGV, "--LINEAGE_PIPELINE_ID", "from-job-args"]
    environ = {"LINEAGE_PIPELINE_ID": "from-env", "LINEAGE_ATTEMPT": "4"}
    assert detect(argv=argv, environ=environ, emr_job_flow_file=NO_EMR).pipeline_id == "from-env"
    assert detect(argv=argv, environ=environ, emr_job_flow_file=NO_EMR).attempt == 4
    explicit = detect(pipeline_id="explicit", attempt=0, argv=argv, environ=environ, emr_job_flow_file=NO_EMR)
    assert (explicit.pipeline_id, explicit.attempt) == ("explicit", 0)


def test_lambda_is_detected_from_its_environment_and_context_object() -> None:
    context = SimpleNamespace(
        function_name="orders-notify",
        function_version="7",
        aws_request_id="9c1d7a52-6b1e-4f0e-9a43-2f1e0b5c7d11",
    )
    environ = {"AWS_LAMBDA_FUNCTION_NAME": "orders-notify", "AWS_LAMBDA_FUNCTION_VERSION": "7"}
    ctx = detect(
        lambda_context=context, argv=["/var/runtime/bootstrap.py"], environ=environ, emr_job_flow_file=NO_EMR
    )
    assert (ctx.platform, ctx.pipeline_id, ctx.run_id) == ("lambda", "orders-notify", context.aws_request_id)
    assert ctx.to_event()["request_id"] == context.aws_request_id
    assert ctx.to_event()["function_version"] == "7"


def test_emr_step_is_detected_from_the_cluster_file_and_step_folder(tmp_path: Path) -> None:
    job_flow = tmp_path / "job-flow.json"
    job_flow.write_text(json.dumps({"jobFlowId": "j-2AXXXXXXGAPLF", "jobFlowCreationInstant": 1}))
    ctx = detect(
        argv=["sessionize.py"],
        environ={},
        emr_job_flow_file=str(job_flow),
        cwd="/mnt/var/lib/hadoop/steps/s-1JXXXXXXXXW4N",
    )
    assert (ctx.platform, ctx.cluster_id, ctx.step_id) == ("emr", "j-2AXXXXXXGAPLF", "s-1JXXXXXXXXW4N")
    assert (ctx.pipeline_id, ctx.run_id) == ("sessionize", "j-2AXXXXXXGAPLF/s-1JXXXXXXXXW4N")
    override = detect(
        argv=["x.py"], environ={"LINEAGE_EMR_STEP_ID": "s-OTHER"}, emr_job_flow_file=str(job_flow), cwd="/"
    )
    assert override.step_id == "s-OTHER"


def test_local_runs_get_a_fresh_run_id_and_the_script_name() -> None:
    first = detect(argv=["/home/me/orders_daily.py"], environ={}, emr_job_flow_file=NO_EMR)
    second = detect(argv=["/home/me/orders_daily.py"], environ={}, emr_job_flow_file=NO_EMR)
    assert (first.platform, first.pipeline_id) == ("local", "orders_daily")
    assert first.run_id != second.run_id


def test_platform_can_be_forced_and_bad_values_are_refused() -> None:
    assert (
        detect(argv=GLUE_ARGV, environ={"LINEAGE_PLATFORM": "local"}, emr_job_flow_file=NO_EMR).platform
        == "local"
    )
    with pytest.raises(LineageConfigError, match="glue, emr, lambda, local"):
        detect(argv=[], environ={"LINEAGE_PLATFORM": "k8s"}, emr_job_flow_file=NO_EMR)
    with pytest.raises(LineageConfigError, match="LINEAGE_ATTEMPT"):
        detect(argv=[], environ={"LINEAGE_ATTEMPT": "first"}, emr_job_flow_file=NO_EMR)


def test_the_emr_job_flow_file_is_argument_then_setting_then_emrs_own_path(tmp_path: Path) -> None:
    from_setting, from_argument = tmp_path / "setting.json", tmp_path / "argument.json"
    from_setting.write_text(json.dumps({"jobFlowId": "j-FROMSETTING"}))
    from_argument.write_text(json.dumps({"jobFlowId": "j-FROMARGUMENT"}))
    environ = {"LINEAGE_EMR_JOB_FLOW_FILE": str(from_setting)}
    step_dir = "/mnt/var/lib/hadoop/steps/s-1JXXXXXXXXW4N"
    assert detect(argv=["x.py"], environ=environ, cwd=step_dir).cluster_id == "j-FROMSETTING"
    explicit = detect(argv=["x.py"], environ=environ, cwd=step_dir, emr_job_flow_file=str(from_argument))
    assert explicit.cluster_id == "j-FROMARGUMENT"
    # Neither: EMR's own path, which does not exist on this machine.
    assert detect(argv=["x.py"], environ={}, cwd=step_dir).platform == "local"
