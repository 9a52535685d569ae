"""The archive, queryable: a Glue database, its tables, an Athena workgroup and the saved queries.

No crawler and no ``MSCK REPAIR``: every table uses partition projection, so a partition exists as
soon as the validator writes its first object, and queries list only the days they name.

Two tables read the same ``events/`` objects:

* ``events``, partitioned exactly as the archive is (``event_date``, ``pipeline_id``). Its
  ``pipeline_id`` is projected as ``injected`` (pipelines are not known in advance), so every query
  on it must name its pipelines with equality conditions (Athena refuses it otherwise): the cheapest
  table for one pipeline's runs. The folder holds the percent-encoded form of the id
  (lineage_plane.layout.partition_value): for ids of letters, digits and ``-_.~`` it is the id itself.
* ``events_all_pipelines``, projected on the date alone, its partition location the whole day
  (``.../events/event_date=<day>/``). Athena reads every object under a table's or a partition's
  location, subfolders included: the Athena guide has a CloudTrail table point at ``AWSLogs/``,
  several folder levels above the log files, and Presto's Hive connector, Athena's ancestor, lists
  partition locations the same recursive way. So a day's partition holds every pipeline's events
  and the lineage questions that cross pipelines (what is downstream of a dataset) are answerable;
  its ``pipeline_id`` is the event's own field, as emitted. (``enum`` projection cannot list
  pipelines not seen yet; a date-only archive layout would give up per-pipeline pruning.)
  queries/README.md has the one-query check to run after the first deployment.

Query results go to a bucket of their own (KMS with the archive's key: results hold archive data),
kept ``results_retention``; the workgroup enforces its settings so no query can write elsewhere or
unencrypted, and caps the bytes one query may scan.
"""

from __future__ import annotations

import re

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.secure import SECURE_BUCKET
from lineage_plane import athena_schema as schema
from lineage_plane.layout import Archive

DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024**3  # 10 GiB
MIN_BYTES_SCANNED_CUTOFF = 10_000_000  # Athena's minimum for a workgroup's per-query limit
RESULTS_PREFIX = "results/"
# The OpenX JSON SerDe, as the plane's design asks. Athena's guide now warns that it can return
# non-deterministic results and points to the Hive JSON SerDe (org.apache.hive.hcatalog.data.JsonSerDe),
# which reads these tables as they are: see queries/README.md before the first deployment.
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_DESCRIPTION_LIMIT = 1024  # of an Athena named query


class LineageQueries(Construct):
    """The Glue ``database``, its ``tables`` (by name; also ``events_table``,
    ``events_all_pipelines_table``, ``quarantine_table``), the ``results_bucket``, the ``workgroup``
    (``workgroup_name``) and ``named_queries`` (by file name); ``grant_query(grantee)``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive_bucket: s3.IBucket,
        archive_key: kms.IKey,
        database_name: str = "lineage",
        workgroup_name: str | None = None,
        bytes_scanned_cutoff_per_query: int = DEFAULT_BYTES_SCANNED_CUTOFF,
        results_retention: Duration = Duration.days(30),
        server_access_logs_bucket: s3.IBucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        if bytes_scanned_cutoff_per_query < MIN_BYTES_SCANNED_CUTOFF:
            raise ValueError(
                f"bytes_scanned_cutoff_per_query={bytes_scanned_cutoff_per_query}: Athena's minimum is "
                f"{MIN_BYTES_SCANNED_CUTOFF} bytes"
            )
        days = results_retention.to_days(integral=False)
        if days < 1 or days != int(days):  # S3 lifecycle rules count whole days
            raise ValueError(f"results_retention must be a whole number of days, at least one (got {days})")
        self.archive_bucket = archive_bucket
        self.archive_key = archive_key
        self.database_name = database_name
        self.workgroup_name = workgroup_name or database_name

        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name, description="lineage-plane: the lineage archive (events, quarantine)"
            ),
        )
        self.database.apply_removal_policy(removal_policy)
        self.tables = {
            spec.name: self._table(spec, archive_bucket.bucket_name, removal_policy)
            for spec in schema.table_specs()
        }
        self.events_table = self.tables[schema.EVENTS_TABLE]
        self.events_all_pipelines_table = self.tables[schema.EVENTS_ALL_PIPELINES_TABLE]
        self.quarantine_table = self.tables[schema.QUARANTINE_TABLE]
        self.results_bucket = self._results_bucket(
            results_retention, server_access_logs_bucket, removal_policy
        )
        self.workgroup = self._workgroup(bytes_scanned_cutoff_per_query, removal_policy)
        self.named_queries = {
            query.name: self._named_query(query, removal_policy) for query in schema.saved_queries()
        }

    def _table(
        self, spec: schema.TableSpec, bucket_name: str, removal_policy: RemovalPolicy
    ) -> glue.CfnTable:
        table = glue.CfnTable(
            self,
            "".join(part.capitalize() for part in spec.name.split("_")) + "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=spec.name,
                description=spec.description,
                table_type="EXTERNAL_TABLE",
                parameters={
                    "EXTERNAL": "TRUE",
                    "classification": "json",
                    "compressionType": "gzip",
                    **spec.parameters(bucket_name),
                },
                partition_keys=[_glue_column(p) for p in spec.partitions],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=spec.location(bucket_name),
                    columns=[_glue_column(c) for c in spec.columns],
                    # Text lines; Hadoop's TextInputFormat gunzips by the .gz extension.
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=JSON_SERDE,
                        parameters={
                            # A malformed line fails the query rather than reading as nulls: the
                            # archive holds only lines the validator serialised.
                            "ignore.malformed.json": "FALSE",
                            # Keys stay as written: every field name of the contract is lower case
                            # already (athena_schema refuses others), and tags "Team" and "team",
                            # both valid, must not collide as a duplicate key.
                            "case.insensitive": "FALSE",
                        },
                    ),
                ),
            ),
        )
        table.node.add_dependency(self.database)
        table.apply_removal_policy(removal_policy)
        return table

    def _results_bucket(
        self,
        retention: Duration,
        access_logs: s3.IBucket | None,
        removal_policy: RemovalPolicy,
    ) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Results",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.archive_key,  # results are archive data: the same key guards both
            bucket_key_enabled=True,
            **SECURE_BUCKET,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="athena-results/" if access_logs else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireQueryResults",
                    expiration=retention,
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # S3 refuses this in a rule with an expiration in days: its own rule.
                s3.LifecycleRule(id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True),
            ],
            removal_policy=removal_policy,
        )
        if access_logs is None:
            Validations.of(bucket).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-S1",
                    reason="Query results are re-creatable and expire; every query that writes them is "
                    "recorded by Athena (query history, CloudTrail StartQueryExecution). Pass "
                    "server_access_logs_bucket to log object access as well.",
                )
            )
        return bucket

    def _workgroup(self, cutoff: int, removal_policy: RemovalPolicy) -> athena.CfnWorkGroup:
        workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="lineage-plane: queries over the lineage archive",
            state="ENABLED",
            # With DESTROY, delete the workgroup with its saved queries and history.
            recursive_delete_option=removal_policy == RemovalPolicy.DESTROY,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=cutoff,
                requester_pays_enabled=False,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version="AUTO"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.results_bucket.s3_url_for_object(RESULTS_PREFIX),
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.archive_key.key_arn
                    ),
                ),
            ),
        )
        workgroup.apply_removal_policy(removal_policy)
        return workgroup

    def _named_query(self, query: schema.SavedQuery, removal_policy: RemovalPolicy) -> athena.CfnNamedQuery:
        # Table names in queries/ are unqualified: the saved query carries the database, and the CLI
        # examples pass it (--query-execution-context Database=...).
        named = athena.CfnNamedQuery(
            self,
            "Query" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", query.name)),
            name=query.name,
            description=query.question[:_DESCRIPTION_LIMIT],
            database=self.database_name,
            work_group=self.workgroup_name,
            query_string=query.sql,
        )
        named.node.add_dependency(self.workgroup, self.database)
        named.apply_removal_policy(removal_policy)
        return named

    def grant_query(self, grantee: iam.IGrantable) -> iam.Grant:
        """Run queries in the workgroup: Athena on the workgroup, Glue on the database's tables,
        read on the archive's two prefixes, read/write on the results, and the key for both.

        The S3 and KMS parts are CDK's own grants, whose action groups (``s3:GetObject*``,
        ``kms:GenerateDataKey*``...) and prefix wildcards cdk-nag reports as AwsSolutions-IAM5 on
        the grantee's policy: acknowledge them there, where the grantee is defined."""
        stack = Stack.of(self)
        glue_arn = f"arn:{stack.partition}:glue:{stack.region}:{stack.account}"
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:GetQueryRuntimeStatistics",
                "athena:BatchGetQueryExecution",
                "athena:ListQueryExecutions",
                "athena:GetWorkGroup",
                "athena:GetNamedQuery",
                "athena:BatchGetNamedQuery",
                "athena:ListNamedQueries",
            ],
            resource_arns=[
                f"arn:{stack.partition}:athena:{stack.region}:{stack.account}:workgroup/{self.workgroup_name}"
            ],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
            ],
            resource_arns=[
                f"{glue_arn}:catalog",
                f"{glue_arn}:database/{self.database_name}",
                *(f"{glue_arn}:table/{self.database_name}/{table}" for table in schema.TABLES),
            ],
        )
        self.archive_bucket.grant_read(grantee, f"{Archive.EVENTS_PREFIX}*")
        self.archive_bucket.grant_read(grantee, f"{Archive.QUARANTINE_PREFIX}*")
        self.results_bucket.grant_read_write(grantee, f"{RESULTS_PREFIX}*")
        self.archive_key.grant_encrypt_decrypt(grantee)
        return grant


def _glue_column(column: schema.Column) -> glue.CfnTable.ColumnProperty:
    return glue.CfnTable.ColumnProperty(name=column.name, type=column.type, comment=column.comment or None)
