"""The run-state table construct: the same table moto builds locally, encrypted, recoverable, granted
to the validator with the actions it calls and no more."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.run_state_table import RunStateTable
from lineage_local.local_plane import run_state_table_spec
from lineage_plane.run_table import RunStateTable as Layout
from tests.infra.support import lambda_role, logical_id, synth_with_nag

pytestmark = pytest.mark.slow  # synthesizes with jsii


@dataclass
class Synthesized:
    template: Template
    report: dict[str, Any]  # the cloud assembly's validation-report.json
    error: str | None  # what app.synth() raised, if it did
    table: str  # logical ids
    key: str
    validator: str
    reader: str


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The construct with its defaults, the validator's role and a reader, synthesized once with cdk-nag."""
    outdir: Path = tmp_path_factory.mktemp("run-state-assembly")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "RunStateTest")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    run_state = RunStateTable(stack, "RunState", encryption_key=key)
    validator, reader = lambda_role(stack, "Validator"), lambda_role(stack, "Reader")
    run_state.grant_apply(validator)
    run_state.grant_read(reader)
    error = synth_with_nag(app)
    template = Template.from_json(json.loads((outdir / stack.template_file).read_text()))
    return Synthesized(
        template=template,
        report=json.loads((outdir / "validation-report.json").read_text()),
        error=error,
        table=logical_id(run_state.table),
        key=logical_id(key),
        validator=logical_id(validator),
        reader=logical_id(reader),
    )


def _table(synth: Synthesized) -> dict[str, Any]:
    resource: dict[str, Any] = synth.template.to_json()["Resources"][synth.table]
    return resource


def _role_statements(synth: Synthesized, role: str) -> list[dict[str, Any]]:
    policies = synth.template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# --- The table, as local_plane builds it ----------------------------------------------------------


def test_keys_and_attributes_are_those_of_the_local_table(synth: Synthesized) -> None:
    spec = run_state_table_spec("ignored")
    props = _table(synth)["Properties"]
    assert props["KeySchema"] == spec["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        spec["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert props["KeySchema"][0]["AttributeName"] == Layout.PK


def test_indexes_are_those_of_the_local_table(synth: Synthesized) -> None:
    spec = run_state_table_spec("ignored")
    props = _table(synth)["Properties"]

    def by_name(indexes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {i["IndexName"]: {"KeySchema": i["KeySchema"], "Projection": i["Projection"]} for i in indexes}

    assert by_name(props["GlobalSecondaryIndexes"]) == by_name(spec["GlobalSecondaryIndexes"])
    assert set(by_name(props["GlobalSecondaryIndexes"])) == {Layout.ACTIVE_INDEX, Layout.PIPELINE_INDEX}


def test_billing_is_on_demand_as_in_the_local_table(synth: Synthesized) -> None:
    assert _table(synth)["Properties"]["BillingMode"] == run_state_table_spec("ignored")["BillingMode"]
    assert "ProvisionedThroughput" not in _table(synth)["Properties"]


def test_the_table_is_recoverable_and_encrypted_with_the_given_key(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": _arn(synth.key)},
        },
    )


def test_dedup_markers_expire_through_the_layouts_ttl_attribute(synth: Synthesized) -> None:
    assert _table(synth)["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": Layout.TTL,
        "Enabled": True,
    }


def test_the_table_is_retained_and_protected_from_deletion(synth: Synthesized) -> None:
    table = _table(synth)
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_props_turn_pitr_off_and_let_the_table_go() -> None:
    stack = cdk.Stack(cdk.App(), "Disposable")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    RunStateTable(
        stack,
        "RunState",
        encryption_key=key,
        point_in_time_recovery=False,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    (table,) = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    # and cdk-nag sees it: the check on the default table below is live, not vacuous
    reported = {v.rule_name for v in AwsSolutionsChecks().validate_scope(stack).violations}
    assert "AwsSolutions-DDB3" in reported


# --- Grants ------------------------------------------------------------------------------------------


def test_grant_apply_allows_the_validators_calls_on_the_table_only(synth: Synthesized) -> None:
    statements = _role_statements(synth, synth.validator)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))]
    assert len(dynamodb) == 1
    assert sorted(_as_list(dynamodb[0]["Action"])) == [
        "dynamodb:BatchGetItem",  # consistent reads of a batch's items
        "dynamodb:PutItem",  # TransactWriteItems is authorized by its parts' actions: Puts only
    ]
    assert dynamodb[0]["Resource"] == _arn(synth.table)  # the table itself: no index/*, no *
    assert {
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "Effect": "Allow",
        "Resource": _arn(synth.key),
    } in statements
    assert len(statements) == 2
    assert all(s["Effect"] == "Allow" for s in statements)


def test_grant_read_allows_reads_queries_and_scans_of_the_table_and_its_indexes(synth: Synthesized) -> None:
    statements = _role_statements(synth, synth.reader)
    index_arns = [
        {"Fn::Join": ["", [_arn(synth.table), f"/index/{name}"]]}
        for name in (Layout.ACTIVE_INDEX, Layout.PIPELINE_INDEX)
    ]
    assert {
        "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"],
        "Effect": "Allow",
        "Resource": [_arn(synth.table), *index_arns],
    } in statements
    assert {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": _arn(synth.key)} in statements
    assert len(statements) == 2


def test_no_grant_has_a_wildcard(synth: Synthesized) -> None:
    for role in (synth.validator, synth.reader):
        for statement in _role_statements(synth, role):
            assert not [a for a in _as_list(statement["Action"]) if "*" in a]
            assert "*" not in json.dumps(statement["Resource"])


# --- cdk-nag -----------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_reports_nothing(synth: Synthesized) -> None:
    assert synth.error is None, json.dumps(synth.report, indent=1)
    nag = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    # With nothing to report or acknowledge, CDK leaves the plugin out of the report.
    assert all(r["violations"] == [] and not r.get("suppressedViolations") for r in nag)
