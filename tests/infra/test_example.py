"""The orders_daily example as deployed: its Glue job installs lineage_lib from the artifacts bucket, the
state machine hands it its execution ARN under the name lineage_lib reads, and its role reaches only
what the job touches."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

import lineage_lib as lineage
from infra.artifacts import EXAMPLE_DIR, EXAMPLE_OUTPUT_PREFIX, LineageArtifacts
from infra.example import (
    DAILY_TABLE,
    GLUE_VERSION,
    PIPELINE_ID,
    RAW_TABLE,
    SFN_EXECUTION_ARN_ARGUMENT,
    OrdersExample,
)
from lineage_lib import env
from lineage_lib.context import detect
from lineage_lib.testing import capture
from shipping.build import GLUE_DIR, MANIFEST_SUFFIX, S3_PREFIX
from tests.infra.support import logical_id, render, synth_with_nag

pytestmark = pytest.mark.slow  # builds the artifacts and synthesizes with jsii

BUCKET = "artifacts-bucket"  # what a Ref to the artifacts bucket renders as below


@dataclass
class Synthesized:
    template: dict[str, Any]
    report: dict[str, Any]  # the cloud assembly's validation-report.json
    error: str | None  # what app.synth() raised, if it did
    example: OrdersExample
    artifacts: LineageArtifacts
    ids: dict[str, str]  # logical ids


@pytest.fixture(scope="module")
def synth(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The example on an artifacts bucket encrypted with a KMS key, synthesized once with cdk-nag on."""
    outdir = tmp_path_factory.mktemp("example-assembly")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "ExampleTest")
    key = kms.Key(stack, "ArtifactsKey", enable_key_rotation=True)
    artifacts_construct = LineageArtifacts(stack, "Artifacts", artifacts_dir=artifacts, encryption_key=key)
    example = OrdersExample(stack, "Example", artifacts=artifacts_construct)
    error = synth_with_nag(app)
    return Synthesized(
        template=json.loads((outdir / stack.template_file).read_text()),
        report=json.loads((outdir / "validation-report.json").read_text()),
        error=error,
        example=example,
        artifacts=artifacts_construct,
        ids={
            "bucket": logical_id(artifacts_construct.bucket),
            "artifacts_key": logical_id(key),
            "key": logical_id(example.key),
            "role": logical_id(example.role),
            "job": logical_id(example.job),
            "state_machine": logical_id(example.state_machine),
            "output_logs": logical_id(example.output_log_group),
            "state_machine_logs": logical_id(example.state_machine_log_group),
        },
    )


def resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in synth.template["Resources"].items() if r["Type"] == kind}


def props(synth: Synthesized, name: str) -> dict[str, Any]:
    found: dict[str, Any] = synth.template["Resources"][synth.ids[name]]["Properties"]
    return found


def role_statements(synth: Synthesized, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources(synth, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- The Glue job -----------------------------------------------------------------------------------


def test_the_job_is_a_glue_5_spark_job_running_the_uploaded_seed_script(synth: Synthesized) -> None:
    job = props(synth, "job")
    assert job["GlueVersion"] == GLUE_VERSION == "5.0"
    assert job["Command"]["Name"] == "glueetl"
    location = render(job["Command"]["ScriptLocation"], {synth.ids["bucket"]: BUCKET})
    assert location == f"s3://{BUCKET}/{synth.artifacts.example_job_prefix}glue_job.py"
    assert job["Role"] == {"Fn::GetAtt": [synth.ids["role"], "Arn"]}
    assert job["MaxRetries"] == 0


def test_the_job_installs_lineage_lib_as_the_glue_5_manifest_says_and_names_its_pipeline(
    synth: Synthesized, artifacts: Path
) -> None:
    manifest = json.loads((artifacts / GLUE_DIR / f"glue-{GLUE_VERSION}{MANIFEST_SUFFIX}").read_text())
    installs = json.loads(
        json.dumps(manifest["job_parameters"]).replace(S3_PREFIX, f"s3://{BUCKET}/lineage_lib")
    )
    arguments = {
        name: render(value, {synth.ids["bucket"]: BUCKET})
        for name, value in props(synth, "job")["DefaultArguments"].items()
    }
    assert arguments == {**installs, f"--{env.PIPELINE_ID}": PIPELINE_ID, "--job-language": "python"}
    assert arguments["--python-modules-installer-option"] == "--no-index"


def test_the_job_runs_under_a_security_configuration_encrypting_logs_and_bookmarks(
    synth: Synthesized,
) -> None:
    (name, security) = next(iter(resources(synth, "AWS::Glue::SecurityConfiguration").items()))
    assert props(synth, "job")["SecurityConfiguration"] == {"Ref": name}
    key = {"Fn::GetAtt": [synth.ids["key"], "Arn"]}
    encryption = security["Properties"]["EncryptionConfiguration"]
    assert encryption["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key}
    assert encryption["JobBookmarksEncryption"] == {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key}


def test_the_lineage_log_group_is_the_one_glue_writes_stdout_to_under_that_configuration(
    synth: Synthesized,
) -> None:
    (security,) = resources(synth, "AWS::Glue::SecurityConfiguration").values()
    group = props(synth, "output_logs")
    name = render(group["LogGroupName"], {synth.ids["role"]: "ROLE"})
    assert name == f"/aws-glue/jobs/{security['Properties']['Name']}-role/ROLE/output"
    assert group["KmsKeyId"] == {"Fn::GetAtt": [synth.ids["key"], "Arn"]}
    assert group["RetentionInDays"] == 30
    (output,) = [o for n, o in synth.template["Outputs"].items() if n.startswith("ExampleLineageLogGroup")]
    assert output["Value"] == {"Ref": synth.ids["output_logs"]}


def test_the_catalog_tables_sit_on_the_uploaded_sample_and_an_unpruned_prefix(synth: Synthesized) -> None:
    tables = {
        (t["Properties"]["TableInput"]["Name"]): t["Properties"]
        for t in resources(synth, "AWS::Glue::Table").values()
    }
    databases = {
        name: d["Properties"]["DatabaseInput"]["Name"]
        for name, d in resources(synth, "AWS::Glue::Database").items()
    }
    assert sorted(databases.values()) == sorted([RAW_TABLE[0], DAILY_TABLE[0]])
    refs = {synth.ids["bucket"]: BUCKET, **databases}
    located = {
        (render(t["DatabaseName"], refs), name): render(
            t["TableInput"]["StorageDescriptor"]["Location"], refs
        )
        for name, t in tables.items()
    }
    assert located == {
        RAW_TABLE: f"s3://{BUCKET}/{synth.artifacts.example_input_prefix}",
        DAILY_TABLE: f"s3://{BUCKET}/{EXAMPLE_OUTPUT_PREFIX}",
    }
    # The deployment prunes the bucket, but not what the job writes.
    assert not [p for p in synth.artifacts.layout if EXAMPLE_OUTPUT_PREFIX.startswith(p)]
    (deployment,) = resources(synth, "Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["Exclude"] == [f"{EXAMPLE_OUTPUT_PREFIX}*"]


def test_the_script_reads_and_writes_the_tables_created_for_it() -> None:
    spec = importlib.util.spec_from_file_location("orders_daily_glue_job", EXAMPLE_DIR / "glue_job.py")
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with capture() as captured:
        script.main([])  # the local path, on the same sample the stack uploads
    assert captured.datasets_read() == {lineage.glue_table(*RAW_TABLE).id}
    assert captured.datasets_written() == {lineage.glue_table(*DAILY_TABLE).id}


# --- The state machine ------------------------------------------------------------------------------


def definition(synth: Synthesized) -> dict[str, Any]:
    text = render(props(synth, "state_machine")["DefinitionString"], {synth.ids["job"]: "JOB"})
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_the_state_machine_runs_the_job_to_completion_with_its_execution_arn(synth: Synthesized) -> None:
    (state,) = definition(synth)["States"].values()
    assert state["Resource"] == "arn:<AWS::Partition>:states:::glue:startJobRun.sync"  # RUN_JOB
    assert state["Parameters"] == {
        "JobName": "JOB",
        "Arguments": {f"{SFN_EXECUTION_ARN_ARGUMENT}.$": "$$.Execution.Id"},
    }


def test_lineage_lib_reads_the_execution_arn_from_the_argument_the_state_machine_passes() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1"
    argv = ["glue_job.py", "--JOB_NAME", "orders", "--JOB_RUN_ID", "jr_1", SFN_EXECUTION_ARN_ARGUMENT, arn]
    assert detect(argv=argv, environ={}).sfn_execution_arn == arn


def test_the_state_machine_logs_everything_encrypted_and_is_traced(synth: Synthesized) -> None:
    machine = props(synth, "state_machine")
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    (destination,) = machine["LoggingConfiguration"]["Destinations"]
    arn = {"Fn::GetAtt": [synth.ids["state_machine_logs"], "Arn"]}
    assert destination == {"CloudWatchLogsLogGroup": {"LogGroupArn": arn}}
    assert props(synth, "state_machine_logs")["KmsKeyId"] == {"Fn::GetAtt": [synth.ids["key"], "Arn"]}
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_the_outputs_give_the_state_machine_and_the_command_that_starts_it(synth: Synthesized) -> None:
    values = {
        name.removeprefix("Example")[:-8]: render(
            o["Value"], {synth.ids["state_machine"]: "STATE_MACHINE_ARN"}
        )
        for name, o in synth.template["Outputs"].items()
        if name.startswith("Example")
    }
    assert values["StateMachineArn"] == "STATE_MACHINE_ARN"
    assert values["StartExecutionCommand"] == (
        "aws stepfunctions start-execution --state-machine-arn STATE_MACHINE_ARN"
    )


def test_the_state_machine_may_run_and_stop_this_job_only(synth: Synthesized) -> None:
    role = synth.template["Resources"][synth.ids["state_machine"]]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (glue,) = [
        s for s in role_statements(synth, role) if any(a.startswith("glue:") for a in as_list(s["Action"]))
    ]
    assert render(glue["Resource"], {synth.ids["job"]: "JOB"}) == (
        "arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:job/JOB"
    )


# --- Least privilege of the job's role --------------------------------------------------------------


def test_the_job_role_has_no_managed_policy_and_no_star_resource(synth: Synthesized) -> None:
    assert "ManagedPolicyArns" not in props(synth, "role")
    statements = role_statements(synth, synth.ids["role"])
    assert statements
    assert not [s for s in statements if "*" in as_list(s["Resource"])]
    assert not [
        a for s in statements for a in as_list(s["Action"]) if a in ("*", "s3:*", "glue:*", "logs:*", "kms:*")
    ]


def test_the_job_role_reads_its_prefixes_and_writes_the_output_table_only(synth: Synthesized) -> None:
    bucket = f"<{synth.ids['bucket']}.Arn>"
    statements = role_statements(synth, synth.ids["role"])
    s3 = [s for s in statements if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    objects: dict[str, set[str]] = {}
    for statement in s3:
        for resource in as_list(statement["Resource"]):
            text = render(resource, {})
            assert text == bucket or text.startswith(f"{bucket}/"), text
            if text != bucket:
                objects.setdefault(text.removeprefix(f"{bucket}/"), set()).update(
                    as_list(statement["Action"])
                )
    artifacts = synth.artifacts
    read = {
        f"{artifacts.glue_wheelhouse_prefix(GLUE_VERSION)}*",
        f"{artifacts.example_job_prefix}*",
        f"{artifacts.example_input_prefix}*",
    }
    assert set(objects) == {*read, f"{EXAMPLE_OUTPUT_PREFIX}*"}
    writes = {"s3:PutObject", "s3:DeleteObject*"}
    assert not [p for p in read if objects[p] & writes]
    assert writes <= objects[f"{EXAMPLE_OUTPUT_PREFIX}*"]


def test_the_job_role_decrypts_the_artifacts_and_encrypts_with_the_example_key_only(
    synth: Synthesized,
) -> None:
    kms_statements = [
        s
        for s in role_statements(synth, synth.ids["role"])
        if any(a.startswith("kms:") for a in as_list(s["Action"]))
    ]
    keys = {render(r, {}) for s in kms_statements for r in as_list(s["Resource"])}
    assert keys == {f"<{synth.ids['artifacts_key']}.Arn>", f"<{synth.ids['key']}.Arn>"}


def test_the_job_role_writes_to_its_own_log_groups_only(synth: Synthesized) -> None:
    (logs,) = [
        s
        for s in role_statements(synth, synth.ids["role"])
        if any(a.startswith("logs:") for a in as_list(s["Action"]))
    ]
    groups = {render(r, {synth.ids["role"]: "ROLE"}) for r in as_list(logs["Resource"])}
    assert {g for g in groups if g.startswith("<")} == {
        f"<{logical_id(g)}.Arn>" for g in synth.example.glue_log_groups
    }
    (security,) = resources(synth, "AWS::Glue::SecurityConfiguration").values()
    configuration = security["Properties"]["Name"]
    assert {g.split(":log-group:")[1] for g in groups if ":log-group:" in g} == {
        f"/aws-glue/jobs/{configuration}-role/ROLE/output",
        f"/aws-glue/jobs/{configuration}-role/ROLE/error",
        f"/aws-glue/jobs/logs-v2-{configuration}",
    }


def test_cloudwatch_logs_may_use_the_key_for_the_examples_log_groups_only(synth: Synthesized) -> None:
    statements = props(synth, "key")["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if "Service" in s["Principal"]]
    assert render(logs["Principal"]["Service"], {}) == "logs.<AWS::Region>.amazonaws.com"
    arns = logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    refs = {synth.ids["role"]: "ROLE"}
    groups = {
        render(g["Properties"]["LogGroupName"], refs)
        for g in resources(synth, "AWS::Logs::LogGroup").values()
    }
    assert len(groups) == 4  # Glue's output, error and continuous logs; the state machine's
    assert {render(arn, refs).split(":log-group:")[1] for arn in arns} == groups


# --- cdk-nag ------------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_reports_nothing_unacknowledged(synth: Synthesized) -> None:
    assert synth.error is None, json.dumps(synth.report, indent=1)
    (nag,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []


def test_the_examples_acknowledgements_are_its_roles_grants_and_cdks_own_statements(
    synth: Synthesized,
) -> None:
    (nag,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    mine = {
        (v["ruleName"], v["acknowledgedAt"])
        for v in nag["suppressedViolations"]
        if v["acknowledgedAt"].startswith("ExampleTest/Example/")
    }
    assert {place for _, place in mine} == {
        "ExampleTest/Example/JobRole",
        "ExampleTest/Example/StateMachine/Role",
    }
    assert ("AwsSolutions-IAM5[Resource::*]", "ExampleTest/Example/StateMachine/Role") in mine
    # The job role's: grant_* wildcards on named prefixes, never a bare Resource::*.
    assert ("AwsSolutions-IAM5[Resource::*]", "ExampleTest/Example/JobRole") not in mine
