"""The seed example, deployed: examples/orders_daily/glue_job.py as a Glue 5.0 Spark job that installs
lineage_lib from the artifacts bucket, the Data Catalog tables it reads and writes (the first over the
uploaded sample), and a Step Functions state machine that runs it and hands it its execution ARN, so
that its lineage names the execution that started the run.

An optional part of the plane (off unless the app turns it on). The script names its tables
raw_db.orders_raw and analytics_db.orders_daily, so this creates the databases raw_db and
analytics_db: a deployment fails where the account already has them in the region.

The job runs under a security configuration that encrypts its CloudWatch logs and bookmarks with this
construct's key. Glue then writes the job's standard output, where lineage_lib prints its events, to
``/aws-glue/jobs/<security configuration>-role/<role>/output`` instead of ``/aws-glue/jobs/output``:
``output_log_group`` is that group (created here, with a retention), for the plane's subscription.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import ArnFormat, Aws, CfnOutput, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.artifacts import (
    KMS_WRITE_WILDCARDS,
    S3_READ_WILDCARDS,
    S3_WRITE_WILDCARDS,
    LineageArtifacts,
    acknowledge,
    wildcard_actions,
)
from lineage_lib import env

GLUE_VERSION: Final = "5.0"
PIPELINE_ID: Final = "orders-daily"
# The tables the script reads and writes: its RAW and DAILY datasets (a test holds them equal).
RAW_TABLE: Final = ("raw_db", "orders_raw")
DAILY_TABLE: Final = ("analytics_db", "orders_daily")
# Job arguments lineage_lib reads (names from lineage_lib.env): Glue passes them as --NAME value.
SFN_EXECUTION_ARN_ARGUMENT: Final = f"--{env.SFN_EXECUTION_ARN}"
PIPELINE_ID_ARGUMENT: Final = f"--{env.PIPELINE_ID}"
START_EXECUTION: Final = "aws stepfunctions start-execution --state-machine-arn "

# JSON lines tables; the column types are the ones the script's ApplyMapping reads and writes.
_COLUMNS: Final = {
    RAW_TABLE: (
        ("order_id", "string"),
        ("customer_id", "string"),
        ("order_ts", "timestamp"),
        ("order_total", "decimal(12,2)"),
    ),
    DAILY_TABLE: (("order_id", "string"), ("order_date", "date"), ("revenue", "decimal(12,2)")),
}
_JSON_SERDE: Final = "org.openx.data.jsonserde.JsonSerDe"
_TEXT_INPUT: Final = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


class OrdersExample(Construct):
    """The orders_daily Glue job, its catalog tables, and the state machine that runs it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts: LineageArtifacts,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal_policy = removal_policy
        self._log_retention = log_retention
        self._log_group_names: dict[str, str] = {}  # construct id -> name, known before the group exists
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the orders_daily example's logs and job bookmarks",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="The orders_daily example Glue job",
        )
        security = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=Names.unique_resource_name(self, max_length=100, separator="-"),
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=self.key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=self.key.key_arn
                ),
                # What the job writes to S3 takes the artifacts bucket's default encryption.
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="DISABLED")
                ],
            ),
        )
        # The groups Glue writes to under this security configuration (driver output and errors, and
        # continuous logs), created here so that they have a retention and the role names each one.
        job_logs = f"/aws-glue/jobs/{security.name}-role/{self.role.role_name}"
        self.output_log_group = self._log_group("OutputLogGroup", f"{job_logs}/output")
        self.glue_log_groups = [
            self.output_log_group,
            self._log_group("ErrorLogGroup", f"{job_logs}/error"),
            self._log_group("ContinuousLogGroup", f"/aws-glue/jobs/logs-v2-{security.name}"),
        ]
        self._grant_job_role(artifacts, self._catalog(artifacts))

        self.job = glue.CfnJob(
            self,
            "Job",
            description="lineage-plane example: builds analytics_db.orders_daily from raw_db.orders_raw",
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=artifacts.example_script_url
            ),
            glue_version=GLUE_VERSION,
            worker_type="G.1X",
            number_of_workers=2,
            timeout=30,  # minutes
            max_retries=0,  # Glue's retry would be a job run the state machine does not wait for
            security_configuration=security.ref,
            default_arguments=self.default_arguments(artifacts),
        )
        self.job.node.add_dependency(self.role)  # and so on its policy: no run without its permissions

        self.state_machine_log_group = self._log_group(
            "StateMachineLogGroup",
            f"/aws/vendedlogs/states/{Names.unique_resource_name(self, max_length=200, separator='-')}",
        )
        run_job = tasks.GlueStartJobRun(
            self,
            "RunOrdersDaily",
            glue_job_name=self.job.ref,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            # Added to the job's default arguments for this run: $$.Execution.Id is the execution's ARN.
            arguments=sfn.TaskInput.from_object({SFN_EXECUTION_ARN_ARGUMENT: sfn.JsonPath.execution_id}),
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(run_job),
            timeout=Duration.hours(1),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        reason = (
            "aws-cdk-lib's statements for execution logs (logs:CreateLogDelivery and the other log delivery "
            "actions) and X-Ray (xray:PutTraceSegments...): actions without resource-level permissions"
        )
        acknowledge(self.state_machine.role, {"AwsSolutions-IAM5[Resource::*]": reason})
        self._allow_logs_service()

        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        CfnOutput(
            self,
            "StartExecutionCommand",
            value=START_EXECUTION + self.state_machine.state_machine_arn,
            description="Runs the orders_daily example job once; its lineage names the execution",
        )
        CfnOutput(
            self,
            "LineageLogGroup",
            value=self.output_log_group.log_group_name,
            description="The log group the example job's lineage events go to (its standard output)",
        )

    @staticmethod
    def default_arguments(artifacts: LineageArtifacts) -> dict[str, str]:
        """The job's default arguments: lineage_lib's Glue parameters and the pipeline id."""
        return {
            **artifacts.glue_job_parameters(GLUE_VERSION),
            PIPELINE_ID_ARGUMENT: PIPELINE_ID,
            "--job-language": "python",
        }

    def _log_group(self, construct_id: str, name: str) -> logs.LogGroup:
        self._log_group_names[construct_id] = name
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            encryption_key=self.key,
            retention=self._log_retention,
            removal_policy=self._removal_policy,
        )

    def _catalog(self, artifacts: LineageArtifacts) -> list[str]:
        """The databases and tables the script uses; returns the ARNs the job reads them by."""
        stack = Stack.of(self)
        locations = {
            RAW_TABLE: artifacts.example_input_url,
            DAILY_TABLE: artifacts.bucket.s3_url_for_object(artifacts.example_output_prefix),
        }
        arns = [stack.format_arn(service="glue", resource="catalog")]
        for (database_name, table_name), location in locations.items():
            database = glue.CfnDatabase(
                self,
                f"{database_name}Database",
                catalog_id=Aws.ACCOUNT_ID,
                database_input=glue.CfnDatabase.DatabaseInputProperty(name=database_name),
            )
            glue.CfnTable(
                self,
                f"{table_name}Table",
                catalog_id=Aws.ACCOUNT_ID,
                database_name=database.ref,
                table_input=glue.CfnTable.TableInputProperty(
                    name=table_name,
                    table_type="EXTERNAL_TABLE",
                    parameters={"classification": "json"},
                    storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                        location=location,
                        input_format=_TEXT_INPUT,
                        output_format=_TEXT_OUTPUT,
                        serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=_JSON_SERDE),
                        columns=[
                            glue.CfnTable.ColumnProperty(name=name, type=type_)
                            for name, type_ in _COLUMNS[(database_name, table_name)]
                        ],
                    ),
                ),
            )
            arns.append(stack.format_arn(service="glue", resource="database", resource_name=database_name))
            arns.append(
                stack.format_arn(
                    service="glue", resource="table", resource_name=f"{database_name}/{table_name}"
                )
            )
        return arns

    def _grant_job_role(self, artifacts: LineageArtifacts, catalog_arns: list[str]) -> None:
        stack = Stack.of(self)
        reads = {
            artifacts.glue_wheelhouse_prefix(GLUE_VERSION): "the lineage_lib wheelhouse it installs, read",
            artifacts.example_job_prefix: "its script, read",
            artifacts.example_input_prefix: "raw_db.orders_raw (the sample), read",
        }
        writes = {artifacts.example_output_prefix: "analytics_db.orders_daily, written"}
        for prefix in reads:
            artifacts.grant_read(self.role, prefix + "*")
        for prefix in writes:  # delete too: Spark's output committer removes its temporary objects
            artifacts.bucket.grant_read_write(self.role, prefix + "*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"], resources=catalog_arns
            )
        )
        # Job bookmarks are encrypted client side (CSE-KMS) with the key.
        self.key.grant(self.role, "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    f"logs:{verb}"
                    for verb in ("CreateLogGroup", "AssociateKmsKey", "CreateLogStream", "PutLogEvents")
                ],
                resources=[
                    arn
                    for group in self.glue_log_groups
                    for arn in (
                        _log_group_arn(stack, self._log_group_names[group.node.id]),
                        group.log_group_arn,
                    )
                ],
            )
        )
        bucket = artifacts.nag_bucket_arn
        findings = {
            **{
                f"AwsSolutions-IAM5[Resource::{bucket}/{prefix}*]": why
                for prefix, why in (reads | writes).items()
            },
            **wildcard_actions(
                S3_READ_WILDCARDS, "read-only actions, on the prefixes named by the resources"
            ),
            **wildcard_actions(S3_WRITE_WILDCARDS, "grant_read_write on analytics_db.orders_daily only"),
        }
        if artifacts.bucket.encryption_key is not None:
            findings |= wildcard_actions(KMS_WRITE_WILDCARDS, "encrypts what it writes with the bucket's key")
        acknowledge(self.role, findings)

    def _allow_logs_service(self) -> None:
        # CloudWatch Logs encrypts these groups, and only these, with the key. By name, not by Ref: a log
        # group depends on its key, so the key's policy cannot depend on the group.
        stack = Stack.of(self)
        names = self._log_group_names.values()
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=[
                    f"kms:{verb}*"
                    for verb in ("Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "Describe")
                ],
                resources=["*"],
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": [_log_group_arn(stack, n) for n in names]
                    }
                },
            )
        )


def _log_group_arn(stack: Stack, name: str) -> str:
    """A log group's ARN as CloudWatch Logs names it in IAM and in encryption contexts (no ``:*``)."""
    return stack.format_arn(
        service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
