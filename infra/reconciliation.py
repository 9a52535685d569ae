"""Reconciliation: what the platform says about runs, beside what their lineage says.

Two functions of the same code (lambdas/glue_bridge), each a PlaneFunction:

- the Glue bridge, on Glue's own account of every job run's end: an EventBridge rule on the default
  bus matches ``Glue Job State Change`` events in a terminal state (lineage_plane.run_table.PlatformState);
- the run reconciler, every few minutes: it sweeps the run-state table's index of running attempts
  for those silent for too long, and asks the platform about them (or, with no platform to ask,
  closes them as expired).

Both write what they observe through the validator's code path: the archive (grant_append) and the
run state (grant_apply). Both read Glue's job runs (GetJobRun, GetJob) and, when a domain is
configured, Glue's OpenLineage events from Amazon DataZone (ListLineageEvents, GetLineageEvent on that
domain only): the reconciler records a run it closes with the bridge's own code, DataZone included.
The reconciler alone queries the run-state table, and only its index of running attempts.

Delivery, when EventBridge cannot invoke a function (throttled, or the function unavailable): the
rule's target retries with backoff, then sends the event to the function's own failure queue, the
queue Lambda already sends a failed asynchronous invocation to. One queue per function, encrypted with
the plane's key and alarmed on: whatever a function could not take, or could not process, waits in the
same place. So the queue's policy lets EventBridge send to it from that rule only (CDK adds the
statement, conditioned on the rule's ARN), and the key's policy lets EventBridge use the key for the
rules of this account (SQS asks KMS for a data key on the sender's behalf; naming the rule itself there
would make the key depend on the rule, and so on the function and the key again: a cycle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.archive import LineageArchive
from infra.functions import PlaneFunction
from infra.lineage_lib_layer import LineageLibLayer
from infra.run_state_table import RunStateTable
from lineage_plane.functions import FunctionEnv
from lineage_plane.run_table import PlatformState

GLUE_BRIDGE: Final = "glue_bridge"  # the functions' names in the assets and their Powertools service names
RUN_RECONCILER: Final = "run_reconciler"

GLUE_SOURCE: Final = "aws.glue"
GLUE_JOB_STATE_CHANGE: Final = "Glue Job State Change"
GLUE_READ_ACTIONS: Final = ("glue:GetJobRun", "glue:GetJob")
DATAZONE_READ_ACTIONS: Final = ("datazone:ListLineageEvents", "datazone:GetLineageEvent")

# A Glue state change that cannot be delivered is retried for hours (the function's own asynchronous
# retries follow once it is delivered); a sweep that cannot start is retried until the next one is due.
BRIDGE_DELIVERY_RETRIES: Final = 8
BRIDGE_DELIVERY_MAX_AGE: Final = Duration.hours(6)
SWEEP_DELIVERY_RETRIES: Final = 2


class LineageReconciliation(Construct):
    """``bridge`` and ``reconciler`` (PlaneFunctions), ``rule`` (Glue's state changes to the bridge)
    and ``schedule`` (the reconciler's sweeps)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts_dir: Path,
        layer: LineageLibLayer,
        encryption_key: kms.IKey,
        archive: LineageArchive,
        run_state: RunStateTable,
        log_retention: logs.RetentionDays,
        reconcile_every: Duration = Duration.minutes(15),
        silent_after: Duration = Duration.minutes(60),
        max_run: Duration = Duration.minutes(1440),
        datazone_domain_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = {
            FunctionEnv.ARCHIVE_BUCKET: archive.bucket.bucket_name,
            FunctionEnv.RUN_STATE_TABLE: run_state.table.table_name,
        }
        if datazone_domain_id:
            environment[FunctionEnv.DATAZONE_DOMAIN_ID] = datazone_domain_id
        self.bridge = PlaneFunction(
            self,
            "GlueBridge",
            name=GLUE_BRIDGE,
            artifacts_dir=artifacts_dir,
            layer=layer,
            encryption_key=encryption_key,
            description="lineage-plane glue_bridge: Glue job runs that ended -> archive and run state",
            environment=environment,
            log_retention=log_retention,
        )
        self.reconciler = PlaneFunction(
            self,
            "RunReconciler",
            name=RUN_RECONCILER,
            artifacts_dir=artifacts_dir,
            layer=layer,
            encryption_key=encryption_key,
            description="lineage-plane run_reconciler: runs silent for too long -> what their platform says",
            environment={
                **environment,
                FunctionEnv.RECONCILE_SILENT_MINUTES: _minutes(silent_after),
                FunctionEnv.RECONCILE_MAX_RUN_MINUTES: _minutes(max_run),
            },
            log_retention=log_retention,
        )
        for function in (self.bridge, self.reconciler):
            archive.grant_append(function.role)
            run_state.grant_apply(function.role)
            self._grant_glue_reads(function.role)
            if datazone_domain_id:
                self._grant_datazone_reads(function.role, datazone_domain_id)
        run_state.grant_sweep(self.reconciler.role)

        self.rule = events.Rule(
            self,
            "GlueJobRunEnded",
            description="lineage-plane: Glue job runs that ended, to the Glue bridge",
            event_pattern=events.EventPattern(
                source=[GLUE_SOURCE],
                detail_type=[GLUE_JOB_STATE_CHANGE],
                detail={"state": list(PlatformState.GLUE_TERMINAL)},
            ),
            targets=[
                targets.LambdaFunction(
                    self.bridge.function,
                    dead_letter_queue=self.bridge.failures,
                    retry_attempts=BRIDGE_DELIVERY_RETRIES,
                    max_event_age=BRIDGE_DELIVERY_MAX_AGE,
                )
            ],
        )
        self.schedule = events.Rule(
            self,
            "Sweep",
            description="lineage-plane: the run reconciler's sweep of silent runs",
            schedule=events.Schedule.rate(reconcile_every),
            targets=[
                targets.LambdaFunction(
                    self.reconciler.function,
                    dead_letter_queue=self.reconciler.failures,
                    retry_attempts=SWEEP_DELIVERY_RETRIES,
                    max_event_age=reconcile_every,
                )
            ],
        )
        _allow_eventbridge_dead_letters(encryption_key)

    def _grant_glue_reads(self, role: iam.IRole) -> None:
        jobs = Stack.of(self).format_arn(service="glue", resource="job", resource_name="*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(GLUE_READ_ACTIONS), resources=[jobs]))
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:"
                "<AWS::AccountId>:job/*]",
                reason="Reads the job runs of whichever Glue job ended (GetJobRun, GetJob only): job names "
                "are not known at deploy time; the grant is scoped to this account's and region's jobs.",
            )
        )

    def _grant_datazone_reads(self, role: iam.IRole, domain_id: str) -> None:
        domain = Stack.of(self).format_arn(service="datazone", resource="domain", resource_name=domain_id)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(DATAZONE_READ_ACTIONS), resources=[domain])
        )


def _allow_eventbridge_dead_letters(key: kms.IKey) -> None:
    """Let EventBridge encrypt what it sends to a KMS-encrypted dead-letter queue, for this account's
    rules only (the queues' own policies name the rule that may send to each)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEventBridgeDeadLetters",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            resources=["*"],  # in a key policy, "*" is the key itself
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(service="events", resource="rule", resource_name="*")
                },
            },
        )
    )


def _minutes(duration: Duration) -> str:
    return str(int(duration.to_minutes()))
