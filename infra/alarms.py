"""Alarms of the plane and the encrypted topic they notify.

They fire on what must never pass silently: a function of the plane failing, any quarantined line,
an archived event the run state could not hold, a delivery that was no subscription's payload,
anything in a dead-letter queue, and a platform run that left no lineage at all (a lineage gap, which
the Glue bridge and the run reconciler both count: the alarm sums their metrics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

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

from lineage_plane.functions import BridgeMetrics, ValidatorMetrics

PERIOD = Duration.minutes(5)
SERVICE_DIMENSION = "service"  # Powertools Metrics' default dimension: the function's service name


class WatchedFunction(NamedTuple):
    """A function of the plane and its Powertools service name (the ``service`` of its metrics)."""

    service: str
    function: lambda_.IFunction


class LineageAlarms(Construct):
    """``topic`` and ``alarms`` (by name).

    ``validator``'s quarantined lines are alarmed on; ``observers`` (the Glue bridge, the run reconciler)
    count lineage gaps, summed into one alarm. Every function gets an errors alarm, named after its
    service (``validator`` -> ``ValidatorErrors``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        validator: WatchedFunction,
        dead_letter_queues: Sequence[sqs.IQueue],
        observers: Sequence[WatchedFunction] = (),
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
        for watched in (validator, *observers):
            self._alarm(
                f"{_pascal(watched.service)}Errors",
                watched.function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {watched.service} function failed an invocation: its input is retried, then kept in "
                "its dead-letter queue.",
            )
        self._alarm(
            "Quarantined",
            self._metric(ValidatorMetrics.QUARANTINED, validator.service),
            "Lineage events were quarantined: read quarantine/ in the archive for the reasons.",
        )
        self._alarm(
            "RunStateRefused",
            self._metric(ValidatorMetrics.RUN_STATE_REFUSED, validator.service),
            "Archived lineage events could not be applied to the run state (DynamoDB refused them): their "
            "runs' state lacks them. The reasons are in quarantine/, in objects named <batch>-run-state.",
        )
        self._alarm(
            "UnreadableDeliveries",
            self._metric(ValidatorMetrics.UNREADABLE_DELIVERIES, validator.service),
            "The validator received payloads that are no CloudWatch Logs subscription's (kept whole under "
            "quarantine/, named unreadable-*): check what invokes the function.",
        )
        if observers:
            self._alarm(
                "LineageGaps",
                self._sum(BridgeMetrics.LINEAGE_GAPS, [o.service for o in observers]),
                "A platform job run left no lineage at all: the lineage_gaps named query lists them.",
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

    @classmethod
    def _sum(cls, name: str, services: Sequence[str]) -> cloudwatch.IMetric:
        """One metric summed over services. FILL: a service that counted nothing in a period adds 0,
        where plain ``m0 + m1`` would have no value at all for that period."""
        metrics = {f"m{index}": cls._metric(name, service) for index, service in enumerate(services)}
        return cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in metrics),
            using_metrics=metrics,
            label=f"{name} ({', '.join(services)})",
            period=PERIOD,
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


def _pascal(service: str) -> str:
    """``run_reconciler`` -> ``RunReconciler``: a service name as a construct id."""
    return "".join(part.capitalize() for part in service.replace("-", "_").split("_"))
