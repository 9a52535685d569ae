"""One construct for every function of the plane: how a Lambda function is deployed, decided once.

A ``PlaneFunction`` runs one handler of the function assets ``python -m shipping.build`` made (pip for
the target platform, no Docker), on the runtime and CPU of the lineage_lib layer it uses, with:
its own role (no managed policies: logs only to its own group), an encrypted log group with a
retention, X-Ray tracing, Powertools' settings, a bounded retry policy for asynchronous invocations
and an encrypted SQS queue as its on-failure destination, so that a batch it cannot process is kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lineage_lib_layer import LineageLibLayer, MissingArtifactsError
from shipping.build import FUNCTIONS_DIR, MANIFEST_SUFFIX


def read_functions_manifest(artifacts_dir: Path) -> dict[str, Any]:
    path = artifacts_dir / (FUNCTIONS_DIR + MANIFEST_SUFFIX)
    if not path.is_file():
        raise MissingArtifactsError(
            f"{path} not found: build the function assets first with `make artifacts` "
            "(or set the context key lineage:artifactsDir to where they are)"
        )
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


class PlaneFunction(Construct):
    """A function of the plane. ``function``, ``role``, ``log_group`` and ``failures`` are exposed."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        artifacts_dir: Path,
        layer: LineageLibLayer,
        encryption_key: kms.IKey,
        environment: Mapping[str, str],
        description: str,
        log_retention: logs.RetentionDays,
        memory_size: int = 1024,
        timeout: Duration = Duration.minutes(5),
        reserved_concurrency: int | None = None,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(6),
    ) -> None:
        super().__init__(scope, construct_id)
        manifest = read_functions_manifest(artifacts_dir)
        if (manifest["runtime"], manifest["arch"]) != (layer.runtime.name, layer.architecture.name):
            raise MissingArtifactsError(
                f"the function assets are built for {manifest['runtime']} {manifest['arch']} but the "
                f"lineage_lib layer for {layer.runtime.name} {layer.architecture.name}: rebuild both "
                "with one `make artifacts` (python -m shipping.build --lambda-python ... --lambda-arch ...)"
            )
        if name not in manifest["functions"]:
            raise MissingArtifactsError(
                f"no asset for function {name!r} in {artifacts_dir}: rebuild with `make artifacts`"
            )
        asset = manifest["functions"][name]

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"lineage-plane {name}: least privilege, granted by the plane's constructs",
        )
        self.log_group.grant_write(self.role)
        self.failures = sqs.Queue(
            self,
            "Failures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(self.failures).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is the function's on-failure destination (its dead-letter queue); "
                "its messages are alarmed on and inspected, not processed further.",
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            code=lambda_.Code.from_asset(str(artifacts_dir / asset["path"])),
            handler=asset["handler"],
            runtime=layer.runtime,
            architecture=layer.architecture,
            layers=[layer.layer],
            role=self.role,
            log_group=self.log_group,
            memory_size=memory_size,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_failure=destinations.SqsDestination(self.failures),
        )
        for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*"):
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]",
                    reason="Sending a failed invocation to the KMS-encrypted failure queue: CDK's grant "
                    "names KMS's action families, on the plane's one key (the resource is not a wildcard).",
                )
            )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray's PutTraceSegments and PutTelemetryRecords take no resource (AWS requires *); "
                "every other statement of this role names its resources.",
            )
        )
