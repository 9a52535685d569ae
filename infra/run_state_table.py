"""The run-state table: DynamoDB, laid out by lineage_plane.run_table.RunStateTable (names written once).

lineage_local.local_plane.run_state_table_spec() creates the same table in moto; the tests compare the
two, so a key or an index cannot change in one place only.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from lineage_plane.run_table import RunStateTable as Layout

# (index name, partition key, sort key) of the global secondary indexes, as the layout defines them.
INDEXES: Final = (
    (Layout.ACTIVE_INDEX, Layout.ACTIVE_PK, Layout.ACTIVE_SK),
    (Layout.PIPELINE_INDEX, Layout.PIPELINE_PK, Layout.PIPELINE_SK),
)

# What the validator calls: BatchGetItem (consistent reads of a batch's items) and TransactWriteItems.
# A transaction is authorized item by item, through the actions of its parts ("Using IAM with DynamoDB
# transactions", DynamoDB Developer Guide): the store's transactions hold only Puts, so PutItem;
# there is no IAM action named TransactWriteItems.
_APPLY_ACTIONS: Final = ("dynamodb:BatchGetItem", "dynamodb:PutItem")
# Scan: `lineage runs` reads the incomplete, failed and gap attempts by scanning the pipeline-runs index
_READ_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan")
# DynamoDB uses the table's key on the caller's behalf: reads need Decrypt, writes Encrypt as well
# (and GenerateDataKey). Named one by one: no wildcard in a grant.
_KMS_APPLY_ACTIONS: Final = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


class RunStateTable(Construct):
    """The run-state table (``table``): on-demand, encrypted with a customer-managed key, PITR on.

    Items expire through the layout's TTL attribute (the dedup markers); both GSIs project ALL
    attributes, so a Query on an index answers without reading the table again.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        point_in_time_recovery: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = encryption_key
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string(Layout.PK),
            sort_key=_string(Layout.SK),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
            time_to_live_attribute=Layout.TTL,
            # A retained table is one to keep: refuse a delete from outside the stack too.
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        for name, partition_key, sort_key in INDEXES:
            self.table.add_global_secondary_index(
                index_name=name,
                partition_key=_string(partition_key),
                sort_key=_string(sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )

    @property
    def index_arns(self) -> list[str]:
        """ARNs of the table's indexes, each by its name (a grant needs no ``index/*`` wildcard)."""
        return [self.index_arn(name) for name, _, _ in INDEXES]

    def grant_apply(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` apply events to the run state as the validator does (read items, then
        write them in transactions conditioned on their version)."""
        # On the table only: Table.grant would add ``index/*``, and the validator reads no index.
        items = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=list(_APPLY_ACTIONS),
            resource_arns=[self.table.table_arn],
            resource=self.table,
        )
        return items.combine(self.key.grant(grantee, *_KMS_APPLY_ACTIONS))

    def index_arn(self, name: str) -> str:
        """ARN of one of the table's indexes, by its name (one of the layout's)."""
        if name not in {index for index, _, _ in INDEXES}:
            raise ValueError(f"the run-state table has no index {name!r}")
        return f"{self.table.table_arn}/index/{name}"

    def grant_sweep(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` Query the index of running attempts, and nothing else of the table (what the
        run reconciler reads: the attempts silent for too long; it writes through grant_apply)."""
        query = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["dynamodb:Query"],
            resource_arns=[self.index_arn(Layout.ACTIVE_INDEX)],
            resource=self.table,
        )
        return query.combine(self.key.grant_decrypt(grantee))

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read items and query the table and its indexes (the CLI's questions)."""
        reads = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=list(_READ_ACTIONS),
            resource_arns=[self.table.table_arn, *self.index_arns],
            resource=self.table,
        )
        return reads.combine(self.key.grant_decrypt(grantee))


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
