"""The whole plane as synthesized: wiring, least privilege, and the checks it must pass before it ships."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lineage_plane.functions import BridgeMetrics, FunctionEnv, ValidatorMetrics
from lineage_plane.layout import LINEAGE_GROUP_FILTER_PATTERN, SOURCE_FILTER_PATTERN

pytestmark = pytest.mark.slow  # synthesizes with jsii


def resources(template: Any, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def validator(template: Any) -> dict[str, Any]:
    functions = {
        name: fn
        for name, fn in resources(template, "AWS::Lambda::Function").items()
        if fn["Properties"].get("Handler") == "lambdas.validator.handler.handler"
    }
    (fn,) = functions.values()
    return fn


def role_statements(template: Any, role_logical_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [ref.get("Ref") for ref in policy["Properties"]["Roles"]]
        if role_logical_id in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_validator_runs_the_handler_on_the_layers_runtime_with_its_settings(template: Any) -> None:
    props = validator(template)["Properties"]
    (layer,) = [
        layer
        for layer in resources(template, "AWS::Lambda::LayerVersion").values()
        if "lineage_lib" in layer["Properties"].get("Description", "")
    ]
    assert props["Runtime"] in layer["Properties"]["CompatibleRuntimes"]
    assert props["Architectures"] == layer["Properties"]["CompatibleArchitectures"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    variables = props["Environment"]["Variables"]
    assert {FunctionEnv.ARCHIVE_BUCKET, FunctionEnv.RUN_STATE_TABLE, "POWERTOOLS_SERVICE_NAME"} <= set(
        variables
    )


def test_a_failed_batch_is_retried_then_kept_in_an_encrypted_queue(template: Any) -> None:
    configs = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    functions = {  # the plane's own, from the function assets
        name
        for name, fn in resources(template, "AWS::Lambda::Function").items()
        if fn["Properties"].get("Handler", "").startswith("lambdas.")
    }
    assert {c["Properties"]["FunctionName"]["Ref"] for c in configs} == functions
    for config in configs:
        assert config["Properties"]["MaximumRetryAttempts"] == 2
        destination = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        queue_id = destination["Fn::GetAtt"][0]
        queue = resources(template, "AWS::SQS::Queue")[queue_id]
        assert "KmsMasterKeyId" in queue["Properties"]


def test_the_validators_role_cannot_delete_and_names_every_s3_resource(template: Any) -> None:
    role_id = validator(template)["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_statements(template, role_id)
    assert statements
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert s3_statements, "the validator must be able to write the archive"
    for statement in statements:
        actions = as_list(statement["Action"])
        assert not [a for a in actions if a.startswith("s3:Delete") or a in ("s3:*", "*")], statement
    for statement in s3_statements:
        assert "*" not in as_list(statement["Resource"]), statement
        assert as_list(statement["Action"]) == ["s3:PutObject"] or set(as_list(statement["Action"])) <= {
            "s3:PutObject"
        }
    managed = resources(template, "AWS::IAM::Role")[role_id]["Properties"].get("ManagedPolicyArns")
    assert not managed


def test_subscription_filters_use_the_patterns_the_code_defines(template: Any) -> None:
    filters = [f["Properties"] for f in resources(template, "AWS::Logs::SubscriptionFilter").values()]
    patterns = sorted(f["FilterPattern"] for f in filters)
    assert patterns == sorted([LINEAGE_GROUP_FILTER_PATTERN, SOURCE_FILTER_PATTERN])
    assert any(f.get("LogGroupName") == "/aws-glue/jobs/output" for f in filters)


def test_the_lineage_log_group_is_encrypted_and_retained(template: Any) -> None:
    for group in resources(template, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] >= 365


def test_alarms_watch_errors_quarantine_gaps_and_dead_letters(template: Any) -> None:
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    # an alarm on one metric names it; an alarm on a sum (metric math) names those it sums
    names = {a.get("MetricName") for a in alarms} | {
        m["MetricStat"]["Metric"]["MetricName"]
        for a in alarms
        for m in a.get("Metrics", [])
        if "MetricStat" in m
    }
    assert {
        "Errors",
        ValidatorMetrics.QUARANTINED,
        ValidatorMetrics.RUN_STATE_REFUSED,
        ValidatorMetrics.UNREADABLE_DELIVERIES,
        BridgeMetrics.LINEAGE_GAPS,
    } <= names
    assert "ApproximateNumberOfMessagesVisible" in names
    for alarm in alarms:
        assert alarm["Threshold"] == 1
        assert alarm["AlarmActions"], alarm
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]


@pytest.fixture(scope="session")
def nagged(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The app as `python app.py` builds it (cdk-nag included), synthesized; (outdir, error text)."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.config import PlaneConfig
    from infra.stack import LineagePlaneStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir))
    LineagePlaneStack(app, "LineagePlane", config=PlaneConfig(artifacts_dir=artifacts))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as err:  # a ValidationFailed report
        report = outdir / "validation-report.json"
        return outdir, f"{err}\n{report.read_text() if report.exists() else ''}"
    return outdir, ""


def test_cdk_nag_finds_nothing_unacknowledged(nagged: tuple[Path, str]) -> None:
    _, failure = nagged
    assert not failure, failure


def test_cfn_lint_finds_nothing(nagged: tuple[Path, str]) -> None:
    outdir, failure = nagged
    template = outdir / "LineagePlane.template.json"
    assert template.is_file(), failure
    # W3005 (a DependsOn already implied by a GetAtt): aws-cdk-lib itself makes every function depend
    # on its role beside the role's GetAtt; harmless, and not ours to change.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_account_policy_option_replaces_the_per_group_filters(artifacts: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.config import SUBSCRIBE_ACCOUNT_POLICY, PlaneConfig
    from infra.stack import LineagePlaneStack

    app = cdk.App()
    config = PlaneConfig(artifacts_dir=artifacts, subscription=SUBSCRIBE_ACCOUNT_POLICY)
    template = Template.from_stack(LineagePlaneStack(app, "AccountPolicy", config=config))
    (policy,) = resources(template, "AWS::Logs::AccountPolicy").values()
    props = policy["Properties"]
    assert props["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"
    document = json.dumps(props["PolicyDocument"])
    assert "FilterPattern" in document
    assert "NOT IN" in json.dumps(props["SelectionCriteria"])
    filters = [f["Properties"] for f in resources(template, "AWS::Logs::SubscriptionFilter").values()]
    assert [f["FilterPattern"] for f in filters] == [LINEAGE_GROUP_FILTER_PATTERN]


def test_each_synthesized_function_asset_is_the_built_asset_folder(
    nagged: tuple[Path, str], artifacts: Path
) -> None:
    """The import test (tests/packaging/test_function_assets.py) imports the built folders; this ties
    them to what the cloud assembly ships: the same files, nothing added, nothing lost."""
    from infra.functions import read_functions_manifest

    outdir, failure = nagged
    template = json.loads((outdir / "LineagePlane.template.json").read_text())
    assets = json.loads((outdir / "LineagePlane.assets.json").read_text())["files"]
    manifest = read_functions_manifest(artifacts)
    handlers = {spec["handler"]: spec["path"] for spec in manifest["functions"].values()}
    shipped = {
        r["Properties"]["Handler"]: r["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") in handlers
    }
    assert set(shipped) == set(handlers), failure
    for handler, asset_hash in shipped.items():
        staged = outdir / assets[asset_hash]["source"]["path"]
        built = artifacts / handlers[handler]
        files = {p.relative_to(staged) for p in staged.rglob("*") if p.is_file()}
        assert files == {p.relative_to(built) for p in built.rglob("*") if p.is_file()}, handler


def test_artifacts_for_another_architecture_stop_synthesis(artifacts: Path) -> None:
    import aws_cdk as cdk

    from infra.config import PlaneConfig
    from infra.lineage_lib_layer import MissingArtifactsError
    from infra.stack import LineagePlaneStack

    with pytest.raises(MissingArtifactsError, match="--lambda-arch x86_64"):
        LineagePlaneStack(
            cdk.App(), "Wrong", config=PlaneConfig(artifacts_dir=artifacts, architecture="x86_64")
        )
