"""Alarms of the plane and the encrypted topic they notify.

They fire on what must never pass silently: the validator failing, any quarantined line, anything in
a dead-letter queue, and a platform run that left no lineage at all (a lineage gap).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lineage_lib.plane import BridgeMetrics, ValidatorMetrics

PERIOD = Duration.minutes(5)
SERVICE_DIMENSION = "service"  # Powertools Metrics' default dimension: the function's service name


class LineageAlarms(Construct):
    """``topic`` and ``alarms`` (by name)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        validator: lambda_.IFunction,
        validator_service: str,
        dead_letter_queues: Sequence[sqs.IQueue],
        bridge_service: str = "glue_bridge",
        email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch alarms publish to an encrypted topic only if the key lets them: this account's.
        stack = Stack.of(self)
        alarms_arn = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms_arn},
                },
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="lineage-plane alarms", master_key=encryption_key, enforce_ssl=True
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._alarm(
            "ValidatorErrors",
            validator.metric_errors(period=PERIOD, statistic="Sum"),
            "The validator failed an invocation: its batch is retried, then kept in its dead-letter queue.",
        )
        self._alarm(
            "Quarantined",
            self._metric(ValidatorMetrics.QUARANTINED, validator_service),
            "Lineage events were quarantined: read quarantine/ in the archive for the reasons.",
        )
        self._alarm(
            "LineageGaps",
            self._metric(BridgeMetrics.LINEAGE_GAPS, bridge_service),
            "A platform job run left no lineage at all.",
        )
        for index, queue in enumerate(dead_letter_queues):
            self._alarm(
                f"DeadLetters{index}",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"Messages wait in dead-letter queue {queue.node.path}: a batch the plane could not process.",
            )

    @staticmethod
    def _metric(name: str, service: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=ValidatorMetrics.NAMESPACE,
            metric_name=name,
            dimensions_map={SERVICE_DIMENSION: service},
            period=PERIOD,
            statistic="Sum",
        )

    def _alarm(self, name: str, metric: cloudwatch.IMetric, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm
