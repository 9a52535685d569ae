"""The Glue bridge and the run reconciler as deployed: what triggers them, what they are told, what they
may do, where what they cannot take waits, and the alarms that watch them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from infra.archive import LineageArchive
from infra.lineage_lib_layer import LineageLibLayer
from infra.reconciliation import GLUE_BRIDGE, RUN_RECONCILER, LineageReconciliation
from infra.run_state_table import RunStateTable
from lineage_plane.functions import BridgeMetrics, FunctionEnv
from lineage_plane.run_table import PlatformState
from lineage_plane.run_table import RunStateTable as Layout
from tests.infra.support import logical_id, render, synth_with_nag

pytestmark = pytest.mark.slow  # synthesizes with jsii

DOMAIN = "dzd_4f2a9c1e7b3d5a"
GLUE_JOBS = "arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:job/*"


@dataclass
class Deployed:
    """One stack's template and the logical ids the tests look for."""

    template: dict[str, Any]
    bridge: str  # the functions
    reconciler: str
    bridge_role: str
    reconciler_role: str
    bridge_queue: str  # their failure queues
    reconciler_queue: str
    rule: str
    schedule: str
    bucket: str
    table: str
    key: str

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == kind}

    def props(self, logical: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.template["Resources"][logical]["Properties"]
        return properties

    def statements(self, role: str) -> list[dict[str, Any]]:
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


@dataclass
class Synthesized:
    with_domain: Deployed
    without_domain: Deployed
    report: dict[str, Any]
    error: str | None


def _deploy(app: cdk.App, name: str, artifacts: Path, domain: str | None) -> Deployed:
    stack = cdk.Stack(app, name)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    archive = LineageArchive(stack, "Archive", encryption_key=key)
    run_state = RunStateTable(stack, "RunState", encryption_key=key)
    reconciliation = LineageReconciliation(
        stack,
        "Reconciliation",
        artifacts_dir=artifacts,
        layer=LineageLibLayer(stack, "Layer", artifacts_dir=artifacts),
        encryption_key=key,
        archive=archive,
        run_state=run_state,
        log_retention=logs.RetentionDays.ONE_YEAR,
        reconcile_every=cdk.Duration.minutes(5),
        silent_after=cdk.Duration.minutes(30),
        max_run=cdk.Duration.minutes(600),
        datazone_domain_id=domain,
    )
    bridge, reconciler = reconciliation.bridge, reconciliation.reconciler
    return Deployed(
        template={},
        bridge=logical_id(bridge.function),
        reconciler=logical_id(reconciler.function),
        bridge_role=logical_id(bridge.role),
        reconciler_role=logical_id(reconciler.role),
        bridge_queue=logical_id(bridge.failures),
        reconciler_queue=logical_id(reconciler.failures),
        rule=logical_id(reconciliation.rule),
        schedule=logical_id(reconciliation.schedule),
        bucket=logical_id(archive.bucket),
        table=logical_id(run_state.table),
        key=logical_id(key),
    )


@pytest.fixture(scope="module")
def synth(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The construct with and without a DataZone domain, in two stacks of one app synthesized once
    with cdk-nag on (read back from the assembly, so that a nag finding fails only the nag test)."""
    outdir = tmp_path_factory.mktemp("reconciliation-assembly")
    app = cdk.App(outdir=str(outdir))
    deployed = {
        name: _deploy(app, name, artifacts, domain) for name, domain in (("Dz", DOMAIN), ("NoDz", None))
    }
    error = synth_with_nag(app)
    for name, stack in deployed.items():
        stack.template = json.loads((outdir / f"{name}.template.json").read_text())
    return Synthesized(
        with_domain=deployed["Dz"],
        without_domain=deployed["NoDz"],
        report=json.loads((outdir / "validation-report.json").read_text()),
        error=error,
    )


def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _actions(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith(prefix) for a in _as_list(s["Action"]))]


# --- Triggers ----------------------------------------------------------------------------------------


def test_glue_job_runs_that_ended_go_to_the_bridge(synth: Synthesized) -> None:
    deployed = synth.with_domain
    rule = deployed.props(deployed.rule)
    assert rule["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"state": list(PlatformState.GLUE_TERMINAL)},
    }
    assert "EventBusName" not in rule  # the default bus, where Glue sends them
    (target,) = rule["Targets"]
    assert target["Arn"] == _arn(deployed.bridge)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 6 * 3600}
    assert target["DeadLetterConfig"] == {"Arn": _arn(deployed.bridge_queue)}


def test_the_reconciler_sweeps_on_its_schedule(synth: Synthesized) -> None:
    deployed = synth.with_domain
    schedule = deployed.props(deployed.schedule)
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = schedule["Targets"]
    assert target["Arn"] == _arn(deployed.reconciler)
    assert target["DeadLetterConfig"] == {"Arn": _arn(deployed.reconciler_queue)}
    # a sweep that could not start is not worth running once the next one is due
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 5 * 60


def test_eventbridge_may_invoke_each_function_from_its_rule_only(synth: Synthesized) -> None:
    deployed = synth.with_domain
    permissions = [p["Properties"] for p in deployed.resources("AWS::Lambda::Permission").values()]
    for function, rule in ((deployed.bridge, deployed.rule), (deployed.reconciler, deployed.schedule)):
        (permission,) = [p for p in permissions if p["FunctionName"] == _arn(function)]
        assert permission["Principal"] == "events.amazonaws.com"
        assert permission["SourceArn"] == _arn(rule)


def test_what_eventbridge_cannot_deliver_waits_in_the_functions_failure_queue(synth: Synthesized) -> None:
    deployed = synth.with_domain
    policies = deployed.resources("AWS::SQS::QueuePolicy").values()
    for queue, rule in (
        (deployed.bridge_queue, deployed.rule),
        (deployed.reconciler_queue, deployed.schedule),
    ):
        (policy,) = [p["Properties"] for p in policies if p["Properties"]["Queues"] == [{"Ref": queue}]]
        allowed = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
        assert allowed == [
            {
                "Sid": allowed[0]["Sid"],
                "Action": "sqs:SendMessage",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Resource": _arn(queue),
                "Condition": {"ArnEquals": {"aws:SourceArn": _arn(rule)}},
            }
        ]
        assert "KmsMasterKeyId" in deployed.props(queue)
    # and the queues are encrypted: EventBridge may use the key, for this account's rules only
    key_policy = deployed.props(deployed.key)["KeyPolicy"]["Statement"]
    (events_use,) = [s for s in key_policy if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert sorted(events_use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert events_use["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source = render(events_use["Condition"]["ArnLike"]["aws:SourceArn"], {})
    assert source == "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/*"


# --- Environment -------------------------------------------------------------------------------------


def _environment(deployed: Deployed, function: str) -> dict[str, Any]:
    variables: dict[str, Any] = deployed.props(function)["Environment"]["Variables"]
    return variables


def test_both_functions_are_told_the_archive_the_run_state_and_the_domain(synth: Synthesized) -> None:
    deployed = synth.with_domain
    for function, service in ((deployed.bridge, GLUE_BRIDGE), (deployed.reconciler, RUN_RECONCILER)):
        variables = _environment(deployed, function)
        assert variables[FunctionEnv.ARCHIVE_BUCKET] == {"Ref": deployed.bucket}
        assert variables[FunctionEnv.RUN_STATE_TABLE] == {"Ref": deployed.table}
        assert variables[FunctionEnv.DATAZONE_DOMAIN_ID] == DOMAIN
        assert variables["POWERTOOLS_SERVICE_NAME"] == service  # the service dimension of its metrics


def test_the_reconciler_is_told_its_thresholds_in_minutes(synth: Synthesized) -> None:
    deployed = synth.with_domain
    variables = _environment(deployed, deployed.reconciler)
    assert variables[FunctionEnv.RECONCILE_SILENT_MINUTES] == "30"
    assert variables[FunctionEnv.RECONCILE_MAX_RUN_MINUTES] == "600"
    assert FunctionEnv.RECONCILE_SILENT_MINUTES not in _environment(deployed, deployed.bridge)


# --- Least privilege ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["bridge_role", "reconciler_role"])
def test_glue_reads_are_job_runs_and_jobs_only(synth: Synthesized, role: str) -> None:
    deployed = synth.with_domain
    (glue,) = _actions(deployed.statements(getattr(deployed, role)), "glue:")
    assert sorted(_as_list(glue["Action"])) == ["glue:GetJob", "glue:GetJobRun"]
    assert render(glue["Resource"], {}) == GLUE_JOBS


def test_only_the_reconciler_queries_and_only_the_index_of_running_attempts(synth: Synthesized) -> None:
    deployed = synth.with_domain
    active = {"Fn::Join": ["", [_arn(deployed.table), f"/index/{Layout.ACTIVE_INDEX}"]]}
    queries = [
        s for s in deployed.statements(deployed.reconciler_role) if "dynamodb:Query" in _as_list(s["Action"])
    ]
    assert queries == [{"Action": "dynamodb:Query", "Effect": "Allow", "Resource": active}]
    bridge = deployed.statements(deployed.bridge_role)
    assert not [s for s in bridge if "dynamodb:Query" in _as_list(s["Action"])]


@pytest.mark.parametrize("role", ["bridge_role", "reconciler_role"])
def test_the_functions_append_to_the_archive_and_delete_nothing(synth: Synthesized, role: str) -> None:
    deployed = synth.with_domain
    statements = deployed.statements(getattr(deployed, role))
    (s3,) = _actions(statements, "s3:")
    assert _as_list(s3["Action"]) == ["s3:PutObject"]
    for statement in statements:
        actions = _as_list(statement["Action"])
        assert not [a for a in actions if "Delete" in a or a in ("*", "s3:*", "dynamodb:*", "glue:*")]
        assert statement["Effect"] == "Allow"


@pytest.mark.parametrize("role", ["bridge_role", "reconciler_role"])
def test_lineage_events_are_read_from_the_configured_domain_only(synth: Synthesized, role: str) -> None:
    """The reconciler records the runs it closes with the bridge's code, DataZone included."""
    deployed = synth.with_domain
    (datazone,) = _actions(deployed.statements(getattr(deployed, role)), "datazone:")
    assert sorted(_as_list(datazone["Action"])) == ["datazone:GetLineageEvent", "datazone:ListLineageEvents"]
    resource = render(datazone["Resource"], {})
    assert resource == f"arn:<AWS::Partition>:datazone:<AWS::Region>:<AWS::AccountId>:domain/{DOMAIN}"


def test_without_a_domain_no_function_is_told_one_nor_may_call_datazone(synth: Synthesized) -> None:
    deployed = synth.without_domain
    for function in (deployed.bridge, deployed.reconciler):
        assert FunctionEnv.DATAZONE_DOMAIN_ID not in _environment(deployed, function)
    for role in (deployed.bridge_role, deployed.reconciler_role):
        assert not _actions(deployed.statements(role), "datazone:")


# --- cdk-nag -----------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_reports_nothing_unacknowledged(synth: Synthesized) -> None:
    assert synth.error is None, json.dumps(synth.report, indent=1)
    (nag,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []


def test_the_glue_jobs_wildcard_is_acknowledged_with_its_reason_on_both_roles(synth: Synthesized) -> None:
    (nag,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    found = {
        c["constructPath"]: v["reason"]
        for v in nag["suppressedViolations"]
        if v["ruleName"] == f"AwsSolutions-IAM5[Resource::{GLUE_JOBS}]"
        for c in v["violatingConstructs"]
    }
    assert set(found) == {
        f"{stack}/Reconciliation/{function}/Role/DefaultPolicy/Resource"
        for stack in ("Dz", "NoDz")
        for function in ("GlueBridge", "RunReconciler")
    }
    assert all("not known at deploy time" in reason for reason in found.values())


# --- In the plane: alarms ----------------------------------------------------------------------------


def test_the_lineage_gaps_alarm_sums_both_services(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    (gaps,) = [a["Properties"] for name, a in alarms.items() if "LineageGaps" in name]
    metrics = {m["Id"]: m for m in gaps["Metrics"]}
    (expression,) = [m for m in metrics.values() if "Expression" in m]
    assert expression["ReturnData"] is True
    summed = {
        metric_id: m["MetricStat"]["Metric"]
        for metric_id, m in metrics.items()
        if metric_id != expression["Id"]
    }
    assert {m["MetricName"] for m in summed.values()} == {BridgeMetrics.LINEAGE_GAPS}
    assert {m["Namespace"] for m in summed.values()} == {BridgeMetrics.NAMESPACE}
    services = {m["Dimensions"][0]["Value"] for m in summed.values()}
    assert services == {GLUE_BRIDGE, RUN_RECONCILER}
    assert all(f"FILL({metric_id}, 0)" in expression["Expression"] for metric_id in summed)
    assert expression["Expression"].count("+") == len(summed) - 1
    assert gaps["Threshold"] == 1
    assert gaps["AlarmActions"]


def test_each_function_has_an_errors_alarm_and_each_failure_queue_one(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    functions = template.find_resources("AWS::Lambda::Function")
    watched = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        if a["Properties"].get("MetricName") == "Errors"
    }
    handlers = {functions[f]["Properties"]["Handler"] for f in watched}
    assert {
        "lambdas.validator.handler.handler",
        "lambdas.glue_bridge.handler.handler",
        "lambdas.glue_bridge.reconciler.handler",
    } <= handlers
    queues = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert queues == set(template.find_resources("AWS::SQS::Queue"))
