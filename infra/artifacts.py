"""The artifacts bucket: lineage_lib's Glue wheelhouses and EMR bootstrap action, as ``python -m
shipping.build`` built them, uploaded where the job parameters and the bootstrap action it outputs
point; and the seed example's Glue job with its sample input.

The manifests shipping.build writes say where to upload each folder under ``s3://<artifacts-bucket>/
<prefix>``; here that placeholder is ``s3://<this bucket>/lineage_lib``, so the S3 layout is the
build's layout and every value a user copies comes from the manifests (nothing is spelled twice)::

    lineage_lib/glue/glue-4.0/  lineage_lib/glue/glue-5.0/   --additional-python-modules wheelhouses
    lineage_lib/emr/emr_bootstrap.sh  lineage_lib/emr/wheelhouse/
    jobs/orders_daily/glue_job.py                            the example job (examples/orders_daily)
    data/raw_db/orders_raw/                                  its sample input
    data/analytics_db/orders_daily/                          what the example job writes

One BucketDeployment uploads it all (each deployment brings its own 22 MB AWS CLI layer) and prunes:
the bucket holds what the deployment put there and what the example job writes, nothing else.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    DefaultStackSynthesizer,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.lineage_lib_layer import MissingArtifactsError
from infra.secure import SECURE_BUCKET
from shipping.build import (
    EMR_DIR,
    GLUE_DIR,
    GLUE_TARGETS,
    MANIFEST_SUFFIX,
    REPO,
    S3_PREFIX,
    glue_job_parameters,
)

# The manifests' s3://<artifacts-bucket>/<prefix> is s3://<bucket>/LINEAGE_LIB_PREFIX.
LINEAGE_LIB_PREFIX: Final = "lineage_lib"
EXAMPLE_DIR: Final = REPO / "examples" / "orders_daily"
EXAMPLE_SCRIPT: Final = "glue_job.py"
EXAMPLE_SAMPLE: Final = "sample_orders_raw.jsonl"
EXAMPLE_JOB_PREFIX: Final = "jobs/orders_daily/"
# Where the example's catalog table raw_db.orders_raw reads from (infra/example.py); a folder of its own,
# because a table reads every object under its location.
EXAMPLE_INPUT_PREFIX: Final = "data/raw_db/orders_raw/"
# Where the example job writes analytics_db.orders_daily: the one prefix the deployment leaves alone.
EXAMPLE_OUTPUT_PREFIX: Final = "data/analytics_db/orders_daily/"
BOOTSTRAP_QUALIFIER: Final = "@aws-cdk/core:bootstrapQualifier"  # the context key the synthesizer reads

NAG_PACK: Final = "AwsSolutions"  # cdk-nag's plugin name, which prefixes the ids it reports
# What grant_read and grant_read_write give beyond exact actions (cdk-nag's IAM5 names each one).
S3_READ_WILDCARDS: Final = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
S3_WRITE_WILDCARDS: Final = ("s3:DeleteObject*", "s3:Abort*")
KMS_WRITE_WILDCARDS: Final = ("kms:GenerateDataKey*", "kms:ReEncrypt*")

_HANDLER_REASON: Final = "the CDK-managed custom resource handler of s3_deployment.BucketDeployment; "
_BASIC_EXECUTION: Final = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
_HANDLER_ACKNOWLEDGMENTS: Final = {
    f"AwsSolutions-IAM4[Policy::{_BASIC_EXECUTION}]": (
        "aws-cdk-lib attaches the basic execution policy (its own log group and streams) to its role"
    ),
    "AwsSolutions-L1": "its runtime is chosen by aws-cdk-lib and moves with aws-cdk-lib upgrades",
}


def acknowledge(scope: Construct, findings: Mapping[str, str]) -> None:
    """Acknowledge AwsSolutions findings (``AwsSolutions-S1``, ``AwsSolutions-IAM5[Action::s3:List*]``...
    -> reason) on ``scope`` and the resources under it, by the ids cdk-nag's validation report gives."""
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{NAG_PACK}::{rule}", reason=why) for rule, why in findings.items())
    )


def wildcard_actions(actions: tuple[str, ...], why: str) -> dict[str, str]:
    """The IAM5 findings of wildcard ``actions``, each acknowledged with ``why``."""
    return {f"AwsSolutions-IAM5[Action::{action}]": why for action in actions}


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file() or not path.with_name(path.name.removesuffix(MANIFEST_SUFFIX)).is_dir():
        raise MissingArtifactsError(
            f"{path} or its folder not found: build lineage_lib's packagings first with `make artifacts` "
            f"(or set the context key lineage:artifactsDir to where they are)"
        )
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def _with_prefix(value: Any, s3_prefix: str) -> Any:
    """``value`` (a manifest's JSON) with the manifests' upload placeholder replaced by ``s3_prefix``."""
    if isinstance(value, str):
        return value.replace(S3_PREFIX, s3_prefix)
    if isinstance(value, list):
        return [_with_prefix(item, s3_prefix) for item in value]
    if isinstance(value, dict):
        return {key: _with_prefix(item, s3_prefix) for key, item in value.items()}
    return value


class LineageArtifacts(Construct):
    """The artifacts bucket and its content; ``glue_job_parameters`` and ``emr_bootstrap_action`` are
    what a user copies into a Glue job or an EMR cluster (also stack outputs)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts_dir: Path,
        encryption_key: kms.IKey | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        # Glue version ("5.0") -> the folder of its wheelhouse under glue/ ("glue-5.0"), and its manifest.
        self._glue_folders = {target.name.removeprefix("glue-"): target.name for target in GLUE_TARGETS}
        self._glue_manifests = {
            version: _read_manifest(artifacts_dir / GLUE_DIR / (folder + MANIFEST_SUFFIX))
            for version, folder in self._glue_folders.items()
        }
        self._emr_manifest = _read_manifest(artifacts_dir / (EMR_DIR + MANIFEST_SUFFIX))

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **SECURE_BUCKET,  # versioned: a job pinned to a wheel works on while a deployment replaces it
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            # With a KMS key, a bucket key: one KMS request per job instead of one per object.
            bucket_key_enabled=True if encryption_key else None,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix="lineage-artifacts/" if access_logs_bucket else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            # A bucket that goes with the stack must be emptied first (it is versioned).
            auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        )
        if access_logs_bucket is None:
            reason = (
                "no access_logs_bucket given: the bucket holds build artifacts only (wheels, scripts, the "
                "example's sample), written by this stack's deployments and read by job roles; pass "
                "access_logs_bucket to log its requests"
            )
            acknowledge(self.bucket, {"AwsSolutions-S1": reason})

        self.s3_prefix = f"s3://{self.bucket.bucket_name}/{LINEAGE_LIB_PREFIX}"
        # Key prefix -> the local folder (or file) uploaded there.
        self.layout: dict[str, Path] = {
            **{
                self.glue_wheelhouse_prefix(version): artifacts_dir / GLUE_DIR / folder
                for version, folder in self._glue_folders.items()
            },
            self.emr_prefix: artifacts_dir / EMR_DIR,
            EXAMPLE_JOB_PREFIX: EXAMPLE_DIR / EXAMPLE_SCRIPT,
            EXAMPLE_INPUT_PREFIX: EXAMPLE_DIR / EXAMPLE_SAMPLE,
        }
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[s3deploy.Source.asset(str(_stage(self.layout)))],
            destination_bucket=self.bucket,
            # Pruning removes what a new build no longer has (the EMR bootstrap action wants exactly one
            # wheel in its wheelhouse); the example's output is not the deployment's to remove.
            prune=True,
            exclude=[f"{EXAMPLE_OUTPUT_PREFIX}*"],
        )
        self._acknowledge_handler()

        stack = Stack.of(self)
        for version in self._glue_manifests:
            CfnOutput(
                self,
                f"GlueJobParameters{version.replace('.', '')}",
                value=stack.to_json_string(self.glue_job_parameters(version)),
                description=f"Glue {version} job parameters that install lineage_lib (JSON)",
            )
        CfnOutput(
            self,
            "EmrBootstrapAction",
            value=stack.to_json_string(self.emr_bootstrap_action),
            description="EMR bootstrap action that installs lineage_lib (RunJobFlow's BootstrapActionConfig)",
        )
        # The example job (infra/example.py) and its input, as uploaded.
        self.example_job_prefix = EXAMPLE_JOB_PREFIX
        self.example_input_prefix = EXAMPLE_INPUT_PREFIX
        self.example_output_prefix = EXAMPLE_OUTPUT_PREFIX
        self.example_script_url = self.bucket.s3_url_for_object(EXAMPLE_JOB_PREFIX + EXAMPLE_SCRIPT)
        self.example_input_url = self.bucket.s3_url_for_object(EXAMPLE_INPUT_PREFIX)

    @property
    def glue_versions(self) -> tuple[str, ...]:
        """The Glue versions with a wheelhouse here ("4.0", "5.0")."""
        return tuple(self._glue_folders)

    def glue_wheelhouse_prefix(self, glue_version: str) -> str:
        """The key prefix of the wheelhouse of ``glue_version`` ("lineage_lib/glue/glue-5.0/")."""
        self._glue_manifest(glue_version)
        return f"{LINEAGE_LIB_PREFIX}/{GLUE_DIR}/{self._glue_folders[glue_version]}/"

    @property
    def emr_prefix(self) -> str:
        """The key prefix of the EMR bootstrap action and its wheelhouse ("lineage_lib/emr/")."""
        return f"{LINEAGE_LIB_PREFIX}/{EMR_DIR}/"

    def glue_job_parameters(self, glue_version: str) -> dict[str, str]:
        """The job parameters that install lineage_lib into a Glue ``glue_version`` job from this bucket:
        ``--additional-python-modules`` and ``--python-modules-installer-option``."""
        manifest = self._glue_manifest(glue_version)
        folder = f"s3://{self.bucket.bucket_name}/{self.glue_wheelhouse_prefix(glue_version).rstrip('/')}"
        return glue_job_parameters(manifest["files"], folder)

    @property
    def emr_bootstrap_action(self) -> dict[str, Any]:
        """The EMR bootstrap action (RunJobFlow's BootstrapActionConfig: Name, ScriptBootstrapAction's
        Path and Args) that installs lineage_lib from this bucket."""
        action: dict[str, Any] = _with_prefix(self._emr_manifest["bootstrap_action"], self.s3_prefix)
        return action

    @property
    def nag_bucket_arn(self) -> str:
        """The bucket's ARN as cdk-nag writes it in a finding's id (``<LogicalId.Arn>``)."""
        bucket = cast(s3.CfnBucket, self.bucket.node.default_child)
        return f"<{Stack.of(self).resolve(bucket.logical_id)}.Arn>"

    def grant_read(self, grantee: iam.IGrantable, objects_key_pattern: str = "*") -> iam.Grant:
        """Let ``grantee`` read objects matching ``objects_key_pattern``, and decrypt them when the
        bucket is encrypted with a KMS key."""
        return self.bucket.grant_read(grantee, objects_key_pattern)

    def _glue_manifest(self, glue_version: str) -> Mapping[str, Any]:
        try:
            return self._glue_manifests[glue_version]
        except KeyError:
            built = ", ".join(self._glue_manifests)
            raise ValueError(
                f"no lineage_lib wheelhouse for Glue {glue_version!r}; built for {built}"
            ) from None

    def _acknowledge_handler(self) -> None:
        # Every BucketDeployment of a stack runs on one singleton function: the findings are on it, its
        # role and the role's policy (whose IAM5 findings name this bucket: each LineageArtifacts
        # acknowledges its own).
        handler = self.deployment.handler_role.node.scope
        assert handler is not None
        stack = Stack.of(self)
        qualifier = (
            stack.node.try_get_context(BOOTSTRAP_QUALIFIER) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        )
        staging = f"arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*"
        findings = {
            **_HANDLER_ACKNOWLEDGMENTS,
            **wildcard_actions(S3_READ_WILDCARDS, "read-only actions: grant_read on the assets it copies"),
            f"AwsSolutions-IAM5[Resource::{staging}]": "the CDK bootstrap bucket, where the sources wait",
            **wildcard_actions(
                S3_WRITE_WILDCARDS, "grant_read_write: replaces and prunes this bucket's objects"
            ),
            f"AwsSolutions-IAM5[Resource::{self.nag_bucket_arn}/*]": "objects of this bucket only",
        }
        if self.bucket.encryption_key is not None:
            findings |= wildcard_actions(
                KMS_WRITE_WILDCARDS, "grant_read_write: encrypts with the bucket's key"
            )
        acknowledge(handler, {rule: _HANDLER_REASON + why for rule, why in findings.items()})


def _stage(layout: Mapping[str, Path]) -> Path:
    """A temporary folder laid out as the bucket: each folder or file of ``layout`` under its prefix."""
    root = Path(tempfile.mkdtemp(prefix="lineage-artifacts-"))
    for prefix, source in layout.items():
        target = root / prefix
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name)
    return root
