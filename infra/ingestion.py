"""The ingestion path: the lineage log group, the validator, and the subscriptions that feed it.

Lines reach the validator through CloudWatch Logs subscription filters: on the plane's own lineage log
group (every line: it holds nothing else) and, with the filter pattern lineage_plane.layout defines, on
the log groups where jobs print their lineage among everything else (Glue's job output by default).
Or, selected by configuration, through one account-level subscription filter policy over every log
group but the plane's own functions' (a function must never feed itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Aws, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from constructs import Construct

from infra.functions import PlaneFunction
from infra.lineage_lib_layer import LineageLibLayer
from lineage_plane.functions import FunctionEnv
from lineage_plane.layout import LINEAGE_GROUP_FILTER_PATTERN, SOURCE_FILTER_PATTERN

VALIDATOR: str = "validator"  # the function's name in the assets and its Powertools service name


def allow_cloudwatch_logs(key: kms.IKey) -> None:
    """Let CloudWatch Logs use the key for this account's log groups (KMS-encrypted log groups)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            resources=["*"],  # in a key policy, "*" is the key itself
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                    )
                }
            },
        )
    )


class LineageIngestion(Construct):
    """``lineage_log_group``, ``validator`` (a PlaneFunction) and the subscriptions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts_dir: Path,
        layer: LineageLibLayer,
        encryption_key: kms.IKey,
        archive_bucket_name: str,
        run_state_table_name: str,
        source_log_groups: Sequence[str],
        use_account_policy: bool,
        log_retention: logs.RetentionDays,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.lineage_log_group = logs.LogGroup(
            self,
            "LineageLogGroup",
            retention=log_retention,
            encryption_key=encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.validator = PlaneFunction(
            self,
            "Validator",
            name=VALIDATOR,
            artifacts_dir=artifacts_dir,
            layer=layer,
            encryption_key=encryption_key,
            description="lineage-plane validator: CloudWatch Logs lineage -> S3 archive and run state",
            environment={
                FunctionEnv.ARCHIVE_BUCKET: archive_bucket_name,
                FunctionEnv.RUN_STATE_TABLE: run_state_table_name,
            },
            log_retention=log_retention,
            reserved_concurrency=reserved_concurrency,
            timeout=Duration.minutes(5),
        )
        destination = log_destinations.LambdaDestination(self.validator.function)
        self.lineage_log_group.add_subscription_filter(
            "ToValidator",
            destination=destination,
            filter_pattern=logs.FilterPattern.literal(LINEAGE_GROUP_FILTER_PATTERN),
        )
        self.subscriptions: list[logs.SubscriptionFilter] = []
        self.account_policy: logs.CfnAccountPolicy | None = None
        if use_account_policy:
            self.account_policy = self._account_policy(self.validator.function)
            return
        for index, name in enumerate(source_log_groups):
            group = logs.LogGroup.from_log_group_name(self, f"Source{index}", name)
            self.subscriptions.append(
                logs.SubscriptionFilter(
                    self,
                    f"FromSource{index}",
                    log_group=group,
                    destination=destination,
                    filter_pattern=logs.FilterPattern.literal(SOURCE_FILTER_PATTERN),
                )
            )

    def _account_policy(self, function: lambda_.IFunction) -> logs.CfnAccountPolicy:
        stack = Stack.of(self)
        function.add_permission(
            "AccountSubscription",
            principal=iam.ServicePrincipal("logs.amazonaws.com"),
            source_account=Aws.ACCOUNT_ID,
            source_arn=f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*",
        )
        own_groups = [self.validator.log_group.log_group_name, self.lineage_log_group.log_group_name]
        return logs.CfnAccountPolicy(
            self,
            "AccountSubscriptionPolicy",
            policy_name="lineage-plane-validator",
            policy_type="SUBSCRIPTION_FILTER_POLICY",
            scope="ALL",
            policy_document=Stack.of(self).to_json_string(
                {
                    "DestinationArn": function.function_arn,
                    "FilterPattern": SOURCE_FILTER_PATTERN,
                }
            ),
            # The validator's own log group must never feed the validator. (The lineage log group
            # has its own filter, with its own pattern.)
            selection_criteria=Fn.join(
                "", ["LogGroupName NOT IN ", Stack.of(self).to_json_string(own_groups)]
            ),
        )
