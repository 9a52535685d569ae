"""The artifacts bucket: secure, holding exactly what shipping.build built, and outputting the values the
manifests say a user sets (with the bucket in place of their placeholder)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from infra.artifacts import (
    EXAMPLE_DIR,
    EXAMPLE_INPUT_PREFIX,
    EXAMPLE_JOB_PREFIX,
    EXAMPLE_OUTPUT_PREFIX,
    LINEAGE_LIB_PREFIX,
    LineageArtifacts,
    acknowledge,
)
from infra.lineage_lib_layer import MissingArtifactsError
from shipping.build import EMR_DIR, GLUE_DIR, GLUE_TARGETS, MANIFEST_SUFFIX, S3_PREFIX
from tests.infra.support import logical_id, render, synth_with_nag

pytestmark = pytest.mark.slow  # builds the artifacts and synthesizes with jsii

BUCKET = "artifacts-bucket"  # what a Ref to the bucket renders as below


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stack name -> template
    report: dict[str, Any]  # the cloud assembly's validation-report.json
    error: str | None  # what app.synth() raised, if it did
    artifacts: dict[str, LineageArtifacts]  # stack name -> construct
    ids: dict[str, str]  # logical ids: "<stack>/bucket", "<stack>/handler", "Encrypted/key", ...


@pytest.fixture(scope="module")
def synth(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Two stacks in one app, synthesized once with cdk-nag: ``Encrypted`` (a KMS key, access logs, a
    reader role) and ``Defaults`` (S3-managed keys, no access logs, DESTROY)."""
    outdir = tmp_path_factory.mktemp("artifacts-assembly")
    app = cdk.App(outdir=str(outdir))
    encrypted = cdk.Stack(app, "Encrypted")
    key = kms.Key(encrypted, "Key", enable_key_rotation=True)
    logs = s3.Bucket(encrypted, "AccessLogs", enforce_ssl=True, versioned=True)
    with_key = LineageArtifacts(
        encrypted, "Artifacts", artifacts_dir=artifacts, encryption_key=key, access_logs_bucket=logs
    )
    reader = iam.Role(encrypted, "Reader", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    with_key.grant_read(reader, f"{EXAMPLE_JOB_PREFIX}*")
    acknowledge(
        reader,
        {
            f"AwsSolutions-IAM5[{finding}]": "a test principal: grant_read's own wildcards"
            for finding in (
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                f"Resource::{with_key.nag_bucket_arn}/{EXAMPLE_JOB_PREFIX}*",
            )
        },
    )
    defaults = cdk.Stack(app, "Defaults")
    plain = LineageArtifacts(
        defaults, "Artifacts", artifacts_dir=artifacts, removal_policy=cdk.RemovalPolicy.DESTROY
    )
    error = synth_with_nag(app)
    # Read back from the assembly (written even when validation fails): a finding fails the nag test only.
    stacks = {"Encrypted": encrypted, "Defaults": defaults}
    return Synthesized(
        outdir=outdir,
        templates={name: json.loads((outdir / s.template_file).read_text()) for name, s in stacks.items()},
        report=json.loads((outdir / "validation-report.json").read_text()),
        error=error,
        artifacts={"Encrypted": with_key, "Defaults": plain},
        ids={
            "Encrypted/bucket": logical_id(with_key.bucket),
            "Encrypted/key": logical_id(key),
            "Encrypted/logs": logical_id(logs),
            "Encrypted/reader": logical_id(reader),
            "Defaults/bucket": logical_id(plain.bucket),
        },
    )


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def manifest(artifacts: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((artifacts / (name + MANIFEST_SUFFIX)).read_text())
    return loaded


def with_bucket(value: Any) -> Any:
    """A manifest value with its upload placeholder replaced by where the construct uploads."""
    return json.loads(json.dumps(value).replace(S3_PREFIX, f"s3://{BUCKET}/{LINEAGE_LIB_PREFIX}"))


def deployment(synth: Synthesized, stack: str) -> tuple[dict[str, Any], Path]:
    """The stack's one BucketDeployment's properties, and the folder its source asset was staged from."""
    assets = json.loads((synth.outdir / f"{stack}.assets.json").read_text())["files"]
    (found,) = _resources(synth.templates[stack], "Custom::CDKBucketDeployment").values()
    props = found["Properties"]
    (key,) = props["SourceObjectKeys"]
    return props, synth.outdir / assets[key.removesuffix(".zip")]["source"]["path"]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- The bucket -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["Encrypted", "Defaults"])
def test_the_bucket_blocks_public_access_requires_tls_and_keeps_versions(
    synth: Synthesized, stack: str
) -> None:
    template, bucket = synth.templates[stack], synth.ids[f"{stack}/bucket"]
    props = template["Resources"][bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (policy,) = [
        p
        for p in _resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    denials = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denials]
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in [s["Condition"] for s in denials]


def test_a_given_key_encrypts_the_bucket_and_access_logs_go_to_the_given_bucket(synth: Synthesized) -> None:
    props = synth.templates["Encrypted"]["Resources"][synth.ids["Encrypted/bucket"]]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": {"Fn::GetAtt": [synth.ids["Encrypted/key"], "Arn"]},
            },
        }
    ]
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": synth.ids["Encrypted/logs"]}
    bucket = synth.templates["Encrypted"]["Resources"][synth.ids["Encrypted/bucket"]]
    assert bucket["DeletionPolicy"] == "Retain"  # the default removal policy


def test_without_a_key_the_bucket_uses_s3_managed_keys_and_destroy_empties_it(synth: Synthesized) -> None:
    template = synth.templates["Defaults"]
    bucket = template["Resources"][synth.ids["Defaults/bucket"]]
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert "LoggingConfiguration" not in bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Delete"
    (empty,) = _resources(template, "Custom::S3AutoDeleteObjects").values()
    assert empty["Properties"]["BucketName"] == {"Ref": synth.ids["Defaults/bucket"]}


def test_grant_read_covers_the_objects_and_the_key_that_decrypts_them(synth: Synthesized) -> None:
    template, ids = synth.templates["Encrypted"], synth.ids
    statements = [
        s
        for p in _resources(template, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": ids["Encrypted/reader"]}]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {
        a: s["Resource"]
        for s in statements
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert render(by_action["s3:GetObject*"][1], {ids["Encrypted/bucket"]: BUCKET}) == (
        f"<{ids['Encrypted/bucket']}.Arn>/{EXAMPLE_JOB_PREFIX}*"
    )
    assert by_action["kms:Decrypt"] == {"Fn::GetAtt": [ids["Encrypted/key"], "Arn"]}
    assert not [a for a in by_action if a.startswith(("s3:Put", "s3:Delete"))]


# --- What it uploads, and where -------------------------------------------------------------------


def test_each_packaging_is_uploaded_under_its_own_prefix_as_built(
    synth: Synthesized, artifacts: Path
) -> None:
    _, uploaded = deployment(synth, "Encrypted")
    expected = {
        **{f"{LINEAGE_LIB_PREFIX}/{GLUE_DIR}/{t.name}/": artifacts / GLUE_DIR / t.name for t in GLUE_TARGETS},
        f"{LINEAGE_LIB_PREFIX}/{EMR_DIR}/": artifacts / EMR_DIR,
    }
    for prefix, built in expected.items():
        assert files(uploaded / prefix) == files(built), prefix
        assert files(built), f"{built} is empty"
    assert "emr_bootstrap.sh" in files(uploaded / LINEAGE_LIB_PREFIX / EMR_DIR)


def test_the_example_job_and_its_sample_are_uploaded_alone_under_their_prefixes(synth: Synthesized) -> None:
    _, uploaded = deployment(synth, "Encrypted")
    assert files(uploaded / EXAMPLE_JOB_PREFIX) == {"glue_job.py": (EXAMPLE_DIR / "glue_job.py").read_bytes()}
    sample = "sample_orders_raw.jsonl"
    assert files(uploaded / EXAMPLE_INPUT_PREFIX) == {sample: (EXAMPLE_DIR / sample).read_bytes()}


def test_one_deployment_uploads_the_layout_and_nothing_else_into_this_bucket(synth: Synthesized) -> None:
    props, uploaded = deployment(synth, "Encrypted")
    assert props["DestinationBucketName"] == {"Ref": synth.ids["Encrypted/bucket"]}
    assert "DestinationBucketKeyPrefix" not in props  # the bucket's root: the layout carries the prefixes
    layout = synth.artifacts["Encrypted"].layout
    assert set(layout) == {
        *(f"{LINEAGE_LIB_PREFIX}/{GLUE_DIR}/{t.name}/" for t in GLUE_TARGETS),
        f"{LINEAGE_LIB_PREFIX}/{EMR_DIR}/",
        EXAMPLE_JOB_PREFIX,
        EXAMPLE_INPUT_PREFIX,
    }
    expected = {
        f"{prefix}{name}": content
        for prefix, source in layout.items()
        for name, content in (
            files(source) if source.is_dir() else {source.name: source.read_bytes()}
        ).items()
    }
    assert files(uploaded) == expected


def test_the_deployment_prunes_all_but_what_the_example_job_writes(synth: Synthesized) -> None:
    props, uploaded = deployment(synth, "Encrypted")
    assert props["Prune"] is True  # a new build's wheelhouse replaces the old one, no stale wheel stays
    assert props["Exclude"] == [f"{EXAMPLE_OUTPUT_PREFIX}*"]
    assert not (uploaded / EXAMPLE_OUTPUT_PREFIX).exists()


# --- What a user copies -----------------------------------------------------------------------------


def outputs(synth: Synthesized, stack: str) -> dict[str, Any]:
    """Output logical id -> its value as text, the bucket's Ref rendered as BUCKET."""
    refs = {synth.ids[f"{stack}/bucket"]: BUCKET}
    return {name: render(o["Value"], refs) for name, o in synth.templates[stack]["Outputs"].items()}


def output(synth: Synthesized, stack: str, construct_id: str) -> str:
    (value,) = [v for name, v in outputs(synth, stack).items() if name.startswith(f"Artifacts{construct_id}")]
    return str(value)


@pytest.mark.parametrize("target", [t.name for t in GLUE_TARGETS])
def test_the_glue_outputs_are_the_manifests_job_parameters_on_this_bucket(
    synth: Synthesized, artifacts: Path, target: str
) -> None:
    version = target.removeprefix("glue-")
    expected = with_bucket(manifest(artifacts / GLUE_DIR, target)["job_parameters"])
    assert json.loads(output(synth, "Encrypted", f"GlueJobParameters{version.replace('.', '')}")) == expected
    construct = synth.artifacts["Encrypted"]
    resolved = cdk.Stack.of(construct).resolve(construct.glue_job_parameters(version))
    assert {k: render(v, {synth.ids["Encrypted/bucket"]: BUCKET}) for k, v in resolved.items()} == expected
    assert expected["--additional-python-modules"].startswith(
        f"s3://{BUCKET}/{construct.glue_wheelhouse_prefix(version)}"
    )


def test_the_emr_output_is_the_manifests_bootstrap_action_on_this_bucket(
    synth: Synthesized, artifacts: Path
) -> None:
    expected = with_bucket(manifest(artifacts, EMR_DIR)["bootstrap_action"])
    assert json.loads(output(synth, "Encrypted", "EmrBootstrapAction")) == expected
    action = expected["ScriptBootstrapAction"]
    assert action["Path"] == f"s3://{BUCKET}/{LINEAGE_LIB_PREFIX}/{EMR_DIR}/emr_bootstrap.sh"
    assert action["Args"] == [f"s3://{BUCKET}/{LINEAGE_LIB_PREFIX}/{EMR_DIR}/wheelhouse/"]


def test_an_unbuilt_glue_version_is_refused_with_the_built_ones(synth: Synthesized) -> None:
    with pytest.raises(ValueError, match=r"'3\.0'; built for 4\.0, 5\.0"):
        synth.artifacts["Defaults"].glue_job_parameters("3.0")


def test_missing_artifacts_say_how_to_build_them(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(), "Missing")
    with pytest.raises(MissingArtifactsError, match="make artifacts"):
        LineageArtifacts(stack, "Artifacts", artifacts_dir=tmp_path)


# --- cdk-nag ------------------------------------------------------------------------------------------


def nag(report: dict[str, Any]) -> dict[str, Any]:
    (found,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    return found


def test_cdk_nag_aws_solutions_reports_nothing_unacknowledged(synth: Synthesized) -> None:
    assert synth.error is None, json.dumps(synth.report, indent=1)
    assert nag(synth.report)["conclusion"] == "success"
    assert nag(synth.report)["violations"] == []


def test_acknowledgements_sit_on_the_deployment_handler_the_bucket_and_the_test_reader(
    synth: Synthesized,
) -> None:
    places = {v["acknowledgedAt"] for v in nag(synth.report)["suppressedViolations"]}
    handler = {p for p in places if "/Custom::CDKBucketDeployment" in p}
    assert places - handler == {"Defaults/Artifacts/Bucket", "Encrypted/Reader"}
    assert {p.split("/")[0] for p in handler} == {"Encrypted", "Defaults"}
    by_rule = {
        (v["ruleName"], v["acknowledgedAt"]): v["reason"] for v in nag(synth.report)["suppressedViolations"]
    }
    assert "no access_logs_bucket given" in by_rule[("AwsSolutions-S1", "Defaults/Artifacts/Bucket")]
    assert all(reason.strip() for reason in by_rule.values())
    # Narrow: each IAM5 finding by name, none of the handler's for a resource of another bucket.
    assert not [rule for rule, _ in by_rule if rule == "AwsSolutions-IAM5"]


def test_the_nag_check_reports_what_is_not_acknowledged(tmp_path: Path) -> None:
    """The check above can fail: a bare bucket, unacknowledged, is reported."""
    app = cdk.App(outdir=str(tmp_path))
    s3.Bucket(cdk.Stack(app, "Bare"), "Bucket")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    reported = {
        v["ruleName"]
        for v in nag(json.loads((tmp_path / "validation-report.json").read_text()))["violations"]
    }
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= reported
