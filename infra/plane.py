"""``LineagePlane``: the whole capture plane as one construct, made of one small construct per part."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.alarms import LineageAlarms, WatchedFunction
from infra.archive import LineageArchive
from infra.artifacts import LineageArtifacts
from infra.config import SUBSCRIBE_ACCOUNT_POLICY, PlaneConfig
from infra.example import OrdersExample
from infra.ingestion import VALIDATOR, LineageIngestion, allow_cloudwatch_logs
from infra.lineage_lib_layer import LineageLibLayer, MissingArtifactsError
from infra.query import LineageQueries
from infra.reconciliation import GLUE_BRIDGE, RUN_RECONCILER, LineageReconciliation
from infra.run_state_table import RunStateTable
from lineage_lib import env

_LOCK_MODES = {"GOVERNANCE": s3.ObjectLockMode.GOVERNANCE, "COMPLIANCE": s3.ObjectLockMode.COMPLIANCE}


class LineagePlane(Construct):
    """Archive, run state, ingestion, reconciliation, queries, alarms and artifacts, wired with least
    privilege.

    Attributes: ``key`` (the plane's KMS key), ``archive``, ``run_state``, ``layer``, ``ingestion``,
    ``reconciliation``, ``queries``, ``alarms``, ``artifacts`` and, when configured, ``example``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PlaneConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="lineage-plane: archive, run state, logs, queues and alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_cloudwatch_logs(self.key)
        retention = retention_at_least(config.log_retention_days)

        self.archive = LineageArchive(
            self,
            "Archive",
            encryption_key=self.key,
            object_lock_mode=_LOCK_MODES[config.object_lock_mode],
            object_lock_retention=Duration.days(config.object_lock_days),
        )
        self.run_state = RunStateTable(self, "RunState", encryption_key=self.key)
        self.layer = LineageLibLayer(self, "LineageLib", artifacts_dir=config.artifacts_dir)
        if self.layer.architecture.name != config.architecture:
            raise MissingArtifactsError(
                f"the artifacts in {config.artifacts_dir} are built for {self.layer.architecture.name}, the "
                f"configuration asks for {config.architecture}: rebuild them with "
                f"`python -m shipping.build --out {config.artifacts_dir} --lambda-arch {config.architecture}`"
            )
        self.artifacts = LineageArtifacts(
            self,
            "Artifacts",
            artifacts_dir=config.artifacts_dir,
            access_logs_bucket=self.archive.access_logs_bucket,
        )
        self.example: OrdersExample | None = None
        if config.example:
            self.example = OrdersExample(self, "Example", artifacts=self.artifacts, log_retention=retention)
        # The example job logs to its own group (Glue's naming under a security configuration).
        example_groups = [self.example.output_log_group.log_group_name] if self.example else []
        self.ingestion = LineageIngestion(
            self,
            "Ingestion",
            artifacts_dir=config.artifacts_dir,
            layer=self.layer,
            encryption_key=self.key,
            archive_bucket_name=self.archive.bucket.bucket_name,
            run_state_table_name=self.run_state.table.table_name,
            source_log_groups=[*config.source_log_groups, *example_groups],
            use_account_policy=config.subscription == SUBSCRIBE_ACCOUNT_POLICY,
            log_retention=retention,
            reserved_concurrency=config.reserved_concurrency,
        )
        validator = self.ingestion.validator
        self.archive.grant_append(validator.role)
        self.run_state.grant_apply(validator.role)
        self.reconciliation = LineageReconciliation(
            self,
            "Reconciliation",
            artifacts_dir=config.artifacts_dir,
            layer=self.layer,
            encryption_key=self.key,
            archive=self.archive,
            run_state=self.run_state,
            log_retention=retention,
            reconcile_every=Duration.minutes(config.reconcile_every_minutes),
            silent_after=Duration.minutes(config.reconcile_silent_minutes),
            max_run=Duration.minutes(config.reconcile_max_run_minutes),
            datazone_domain_id=config.datazone_domain_id,
        )
        bridge, reconciler = self.reconciliation.bridge, self.reconciliation.reconciler

        self.queries = LineageQueries(
            self,
            "Queries",
            archive_bucket=self.archive.bucket,
            archive_key=self.key,
            bytes_scanned_cutoff_per_query=config.athena_bytes_scanned_cutoff,
            server_access_logs_bucket=self.archive.access_logs_bucket,
        )
        self.alarms = LineageAlarms(
            self,
            "Alarms",
            encryption_key=self.key,
            validator=WatchedFunction(VALIDATOR, validator.function),
            observers=[
                WatchedFunction(GLUE_BRIDGE, bridge.function),
                WatchedFunction(RUN_RECONCILER, reconciler.function),
            ],
            dead_letter_queues=[validator.failures, bridge.failures, reconciler.failures],
            email=config.alarm_email,
        )
        self._outputs()

    def _outputs(self) -> None:
        CfnOutput(
            self, "ArchiveBucket", value=self.archive.bucket.bucket_name, description="The lineage archive"
        )
        CfnOutput(
            self, "RunStateTable", value=self.run_state.table.table_name, description="Runs, attempts, steps"
        )
        CfnOutput(
            self,
            "LineageLogGroup",
            value=self.ingestion.lineage_log_group.log_group_name,
            description=f"Set {env.LOG_GROUP} to this for lineage_lib's cloudwatch sink",
        )
        CfnOutput(
            self,
            "LineageLibLayerArn",
            value=self.layer.layer.layer_version_arn,
            description="Add this layer to a Lambda function to `import lineage_lib` in it",
        )
        CfnOutput(
            self,
            "GlueBridgeFunction",
            value=self.reconciliation.bridge.function.function_name,
            description="Turns Glue job run ends into observed lineage events",
        )
        CfnOutput(
            self,
            "RunReconcilerFunction",
            value=self.reconciliation.reconciler.function.function_name,
            description="Invoke it to sweep silent runs now, rather than at its next scheduled run",
        )
        CfnOutput(
            self, "AlarmTopic", value=self.alarms.topic.topic_arn, description="Subscribe to the alarms"
        )


# The retentions CloudWatch Logs offers, in days (jsii's RetentionDays values are names, not days).
_RETENTIONS = (
    (1, logs.RetentionDays.ONE_DAY), (3, logs.RetentionDays.THREE_DAYS), (5, logs.RetentionDays.FIVE_DAYS),
    (7, logs.RetentionDays.ONE_WEEK), (14, logs.RetentionDays.TWO_WEEKS), (30, logs.RetentionDays.ONE_MONTH),
    (60, logs.RetentionDays.TWO_MONTHS), (90, logs.RetentionDays.THREE_MONTHS),
    (120, logs.RetentionDays.FOUR_MONTHS), (150, logs.RetentionDays.FIVE_MONTHS),
    (180, logs.RetentionDays.SIX_MONTHS), (365, logs.RetentionDays.ONE_YEAR),
    (400, logs.RetentionDays.THIRTEEN_MONTHS), (545, logs.RetentionDays.EIGHTEEN_MONTHS),
    (731, logs.RetentionDays.TWO_YEARS), (1096, logs.RetentionDays.THREE_YEARS),
    (1827, logs.RetentionDays.FIVE_YEARS), (2192, logs.RetentionDays.SIX_YEARS),
    (2557, logs.RetentionDays.SEVEN_YEARS), (2922, logs.RetentionDays.EIGHT_YEARS),
    (3288, logs.RetentionDays.NINE_YEARS), (3653, logs.RetentionDays.TEN_YEARS),
)  # fmt: skip


def retention_at_least(days: int) -> logs.RetentionDays:
    """The shortest retention CloudWatch Logs offers that keeps logs at least ``days`` (at most 10 years)."""
    return next((retention for offered, retention in _RETENTIONS if offered >= days), _RETENTIONS[-1][1])
