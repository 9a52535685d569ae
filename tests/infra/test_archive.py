"""The archive construct: an append-only, locked, encrypted bucket, and grants that keep it so."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.archive import ACCESS_LOGS_PREFIX, LineageArchive
from lineage_plane.layout import Archive
from tests.infra.support import lambda_role, logical_id, synth_with_nag

pytestmark = pytest.mark.slow  # synthesizes with jsii

PREFIXES = (Archive.EVENTS_PREFIX, Archive.QUARANTINE_PREFIX)


@dataclass
class Synthesized:
    template: Template
    report: dict[str, Any]  # the cloud assembly's validation-report.json
    error: str | None  # what app.synth() raised, if it did
    bucket: str  # logical ids
    logs_bucket: str
    key: str
    writer: str
    reader: str


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The construct with its defaults, a writer and a reader, synthesized once with cdk-nag on."""
    outdir: Path = tmp_path_factory.mktemp("archive-assembly")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "ArchiveTest")
    archive = LineageArchive(stack, "Archive")
    writer, reader = lambda_role(stack, "Writer"), lambda_role(stack, "Reader")
    archive.grant_append(writer)
    archive.grant_read(reader)
    error = synth_with_nag(app)
    # Read back from the assembly (written even when validation fails), so that a nag finding fails
    # the nag test only, not every test of the template.
    template = Template.from_json(json.loads((outdir / stack.template_file).read_text()))
    return Synthesized(
        template=template,
        report=json.loads((outdir / "validation-report.json").read_text()),
        error=error,
        bucket=logical_id(archive.bucket),
        logs_bucket=logical_id(archive.access_logs_bucket),
        key=logical_id(archive.key),
        writer=logical_id(writer),
        reader=logical_id(reader),
    )


def _objects(bucket: str, prefix: str) -> dict[str, Any]:
    """How CloudFormation spells ``<bucket arn>/<prefix>*``."""
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{prefix}*"]]}


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _resource(synth: Synthesized, logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = synth.template.to_json()["Resources"][logical_id]
    return resource


def _bucket_policy(synth: Synthesized, bucket: str) -> list[dict[str, Any]]:
    policies = synth.template.find_resources(
        "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": bucket}}}
    )
    (policy,) = policies.values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _role_statements(synth: Synthesized, role: str) -> list[dict[str, Any]]:
    policies = synth.template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- The archive bucket ---------------------------------------------------------------------------


def test_the_archive_is_versioned_and_locked_for_a_year_in_governance_mode(synth: Synthesized) -> None:
    bucket = _resource(synth, synth.bucket)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
    }
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_the_archive_is_encrypted_with_its_rotating_key_and_a_bucket_key(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": _arn(synth.key),
                        },
                    }
                ]
            },
            "ObjectLockEnabled": True,
        },
    )
    assert _resource(synth, synth.key)["Properties"]["EnableKeyRotation"] is True


def test_the_archive_logs_its_access_into_the_log_bucket(synth: Synthesized) -> None:
    assert _resource(synth, synth.bucket)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": synth.logs_bucket},
        "LogFilePrefix": ACCESS_LOGS_PREFIX,
    }


def test_objects_and_their_old_versions_move_to_colder_storage_with_age(synth: Synthesized) -> None:
    (rule,) = _resource(synth, synth.bucket)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 90},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 365},
    ]
    assert rule["NoncurrentVersionTransitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 90},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 365},
    ]
    assert "ExpirationInDays" not in rule  # an archive: nothing expires
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


@pytest.mark.parametrize("which", ["bucket", "logs_bucket"])
def test_both_buckets_block_public_access_and_disable_acls(synth: Synthesized, which: str) -> None:
    props = _resource(synth, getattr(synth, which))["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in props


@pytest.mark.parametrize("which", ["bucket", "logs_bucket"])
def test_both_buckets_refuse_requests_without_tls_1_2(synth: Synthesized, which: str) -> None:
    bucket = getattr(synth, which)
    whole_bucket = [_arn(bucket), {"Fn::Join": ["", [_arn(bucket), "/*"]]}]

    def deny_all(condition: dict[str, Any]) -> dict[str, Any]:
        return {
            "Action": "s3:*",
            "Condition": condition,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": whole_bucket,
        }

    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        deny_all({"Bool": {"aws:SecureTransport": "false"}}),
                        deny_all({"NumericLessThan": {"s3:TlsVersion": 1.2}}),
                    ]
                )
            },
        },
    )


# --- The bucket policy: append-only on the archive's prefixes --------------------------------------


def test_no_principal_may_delete_an_archived_object_or_version(synth: Synthesized) -> None:
    denies = [
        s
        for s in _bucket_policy(synth, synth.bucket)
        if s["Effect"] == "Deny" and "s3:DeleteObject" in _as_list(s["Action"])
    ]
    (deny,) = denies
    assert sorted(_as_list(deny["Action"])) == ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    assert deny["Principal"] == {"AWS": "*"}
    assert "Condition" not in deny  # whoever asks, however
    assert deny["Resource"] == [_objects(synth.bucket, p) for p in PREFIXES]


def test_a_put_without_if_none_match_is_denied_on_the_archive_prefixes(synth: Synthesized) -> None:
    denies = [
        s
        for s in _bucket_policy(synth, synth.bucket)
        if s["Effect"] == "Deny" and _as_list(s["Action"]) == ["s3:PutObject"]
    ]
    (deny,) = denies
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Resource"] == [_objects(synth.bucket, p) for p in PREFIXES]
    assert deny["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        # the object-creating requests only: CreateMultipartUpload and UploadPart take no such header
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }


def test_the_bucket_policy_allows_nothing(synth: Synthesized) -> None:
    """Access comes from grants on the principals; the bucket policy only forbids."""
    assert {s["Effect"] for s in _bucket_policy(synth, synth.bucket)} == {"Deny"}


# --- The access-logs bucket ------------------------------------------------------------------------


def test_the_log_bucket_uses_s3_managed_keys_versioning_and_expiry(synth: Synthesized) -> None:
    props = _resource(synth, synth.logs_bucket)["Properties"]
    # S3 server access logging delivers only to SSE-S3 buckets
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 365
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_s3_delivers_logs_by_bucket_policy_from_the_archive_only(synth: Synthesized) -> None:
    allows = [s for s in _bucket_policy(synth, synth.logs_bucket) if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Action": "s3:PutObject",
            "Condition": {
                "ArnLike": {"aws:SourceArn": _arn(synth.bucket)},
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            },
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Resource": _objects(synth.logs_bucket, ACCESS_LOGS_PREFIX),
        }
    ]


# --- Grants ------------------------------------------------------------------------------------------


def test_grant_append_allows_put_object_on_the_two_prefixes_and_nothing_else(synth: Synthesized) -> None:
    statements = _role_statements(synth, synth.writer)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    assert s3_statements == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": [_objects(synth.bucket, p) for p in PREFIXES],
        }
    ]
    actions = {a for s in statements for a in _as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("s3:Delete")}
    assert not {a for a in actions if "*" in a}
    for statement in s3_statements:
        assert "*" not in _as_list(statement["Resource"])
    kms_statements = [s for s in statements if s not in s3_statements]
    assert kms_statements == [
        {"Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": _arn(synth.key)}
    ]


def test_grant_read_allows_listing_the_bucket_and_reading_the_prefixes(synth: Synthesized) -> None:
    statements = _role_statements(synth, synth.reader)
    assert {
        "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
        "Effect": "Allow",
        "Resource": _arn(synth.bucket),
    } in statements
    assert {
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": [_objects(synth.bucket, p) for p in PREFIXES],
    } in statements
    assert {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": _arn(synth.key)} in statements
    assert len(statements) == 3
    for statement in statements:
        assert "*" not in _as_list(statement["Resource"])


# --- cdk-nag -----------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_reports_nothing_unacknowledged(synth: Synthesized) -> None:
    assert synth.error is None, json.dumps(synth.report, indent=1)
    (nag,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []


def test_the_only_acknowledged_findings_are_the_grants_prefix_wildcards(synth: Synthesized) -> None:
    (nag,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    found = {
        (v["ruleName"], c["constructPath"]): v["reason"]
        for v in nag["suppressedViolations"]
        for c in v["violatingConstructs"]
    }
    expected = {
        (
            f"AwsSolutions-IAM5[Resource::<{synth.bucket}.Arn>/{prefix}*]",
            f"ArchiveTest/{role}/DefaultPolicy/Resource",
        )
        for prefix in PREFIXES
        for role in ("Writer", "Reader")
    }
    assert set(found) == expected
    assert all(len(reason) > 40 for reason in found.values())  # a reason, not a placeholder


def test_a_wildcard_the_archive_did_not_grant_is_still_reported(tmp_path: Path) -> None:
    """The acknowledgements are finding by finding: they hide nothing else on the same role."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Other")
    archive = LineageArchive(stack, "Archive")
    role = lambda_role(stack, "Writer")
    archive.grant_append(role)
    archive.bucket.grant_read(role)  # s3:GetObject* and s3:List* on <bucket>/*: not the construct's doing
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    reported = {v["ruleName"] for v in nag["violations"]}
    assert "AwsSolutions-IAM5[Action::s3:GetObject*]" in reported
    assert f"AwsSolutions-IAM5[Resource::<{logical_id(archive.bucket)}.Arn>/*]" in reported
    assert not {r for r in reported if "/events/" in r or "/quarantine/" in r}
    assert {v["ruleName"] for v in nag["suppressedViolations"]} == {
        f"AwsSolutions-IAM5[Resource::<{logical_id(archive.bucket)}.Arn>/{prefix}*]" for prefix in PREFIXES
    }


# --- Props -------------------------------------------------------------------------------------------


def test_props_set_the_lock_mode_the_storage_classes_the_key_and_the_removal_policy() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Custom")
    key = kms.Key(stack, "SharedKey", enable_key_rotation=True)
    archive = LineageArchive(
        stack,
        "Archive",
        encryption_key=key,
        object_lock_mode=s3.ObjectLockMode.COMPLIANCE,
        object_lock_retention=cdk.Duration.days(2555),
        transition_to_infrequent_access_after=cdk.Duration.days(30),
        transition_to_glacier_ir_after=None,
        access_logs_expiration=cdk.Duration.days(90),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    assert archive.key is key
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)  # the given key; none created
    resources = template.to_json()["Resources"]
    bucket = resources[logical_id(archive.bucket)]
    props = bucket["Properties"]
    assert props["ObjectLockConfiguration"]["Rule"] == {
        "DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2555}
    }
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == _arn(logical_id(key))
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert (
        rule["Transitions"]
        == rule["NoncurrentVersionTransitions"]
        == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
    )
    assert bucket["DeletionPolicy"] == "Delete"
    logs = resources[logical_id(archive.access_logs_bucket)]
    assert logs["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    assert logs["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("infrequent_access", "glacier_ir", "message"),
    [
        (29, 365, "at least 30"),
        (90, 119, "at least 30 days after"),
    ],
)
def test_transitions_s3_would_refuse_are_refused_at_synthesis(
    infrequent_access: int, glacier_ir: int, message: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Refused")
    with pytest.raises(ValueError, match=message):
        LineageArchive(
            stack,
            "Archive",
            transition_to_infrequent_access_after=cdk.Duration.days(infrequent_access),
            transition_to_glacier_ir_after=cdk.Duration.days(glacier_ir),
        )
