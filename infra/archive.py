"""The archive: an S3 bucket that keeps every delivered batch, append-only, under Object Lock.

The layout (``events/``, ``quarantine/``) is lineage_plane.layout.Archive's; this module only protects
it. Writers get ``grant_append`` (PutObject on the two prefixes, nothing else) and the bucket policy
makes the rest of the contract hold for every principal, the account's administrators included:
an archived object is never deleted nor overwritten, and a write must say it creates a new object.
"""

from __future__ import annotations

from typing import Final, cast

from aws_cdk import Acknowledgment, CfnElement, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.secure import SECURE_BUCKET
from lineage_plane.layout import Archive

# The archive's own prefixes: the only places the validator writes, and the ones the policy protects.
ARCHIVE_PREFIXES: Final = (Archive.EVENTS_PREFIX, Archive.QUARANTINE_PREFIX)
ACCESS_LOGS_PREFIX: Final = "archive/"

DEFAULT_OBJECT_LOCK_RETENTION: Final = Duration.days(365)
DEFAULT_INFREQUENT_ACCESS_AFTER: Final = Duration.days(90)
DEFAULT_GLACIER_IR_AFTER: Final = Duration.days(365)
DEFAULT_ACCESS_LOGS_EXPIRATION: Final = Duration.days(365)
# S3 refuses a transition to STANDARD_IA earlier than 30 days after creation, and a later transition
# in the same rule less than 30 days after the one to STANDARD_IA.
_MIN_DAYS_BEFORE_IA: Final = 30
_MIN_DAYS_IN_IA: Final = 30

# S3 encrypts an SSE-KMS object with a data key it asks KMS for on the writer's behalf
# (kms:GenerateDataKey); kms:Encrypt is the other encrypting action. No kms:Decrypt: a single-part
# PutObject does not need it (a multipart upload would). Named one by one: no GenerateDataKey*.
_KMS_APPEND_ACTIONS: Final = ("kms:Encrypt", "kms:GenerateDataKey")

# CDK lets S3 deliver server access logs through a bucket policy (what S3 recommends) instead of the
# legacy LogDeliveryWrite ACL only under this feature flag; this construct turns it on for itself.
_LOGS_BY_BUCKET_POLICY: Final = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


class LineageArchive(Construct):
    """The archive bucket, its KMS key and its server-access-logs bucket, with append-only defaults.

    Attributes: ``bucket`` (the archive), ``key`` (its KMS key, created with rotation unless one is
    given), ``access_logs_bucket`` (S3 server access logs of the archive, under ``archive/``).
    Objects are locked for ``object_lock_retention`` from their creation (GOVERNANCE by default, so
    that the retention of a wrongly written object can still be shortened by an administrator with
    s3:BypassGovernanceRetention; the bucket policy denies deleting it all the same).
    ``removal_policy`` applies to the key and both buckets; with DESTROY, CloudFormation still cannot
    delete an archive that holds objects (Object Lock and the policy forbid emptying it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None = None,
        object_lock_mode: s3.ObjectLockMode = s3.ObjectLockMode.GOVERNANCE,
        object_lock_retention: Duration = DEFAULT_OBJECT_LOCK_RETENTION,
        transition_to_infrequent_access_after: Duration = DEFAULT_INFREQUENT_ACCESS_AFTER,
        transition_to_glacier_ir_after: Duration | None = DEFAULT_GLACIER_IR_AFTER,
        access_logs_expiration: Duration = DEFAULT_ACCESS_LOGS_EXPIRATION,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        transitions = _storage_transitions(
            transition_to_infrequent_access_after, transition_to_glacier_ir_after
        )
        # Context set here reaches only this construct's children (it must precede them).
        self.node.set_context(_LOGS_BY_BUCKET_POLICY, True)

        self.key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts the lineage archive (S3)",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )

        # S3 server access logging delivers only to a bucket encrypted with SSE-S3 (not SSE-KMS).
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            **SECURE_BUCKET,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=access_logs_expiration,
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
        )
        # cdk-nag's AwsSolutions-S1 exempts a bucket that is another bucket's access-log destination,
        # so this bucket needs no acknowledgement: it cannot log to itself.

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one KMS call per bucket key, not per object
            **SECURE_BUCKET,
            object_lock_enabled=True,
            object_lock_default_retention=_retention(object_lock_mode, object_lock_retention),
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=ACCESS_LOGS_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ColderWithAge",
                    transitions=[s3.Transition(storage_class=c, transition_after=d) for c, d in transitions],
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(storage_class=c, transition_after=d)
                        for c, d in transitions
                    ],
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
        )
        archived = self.archived_object_arns
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyDeletingArchivedObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=archived,
            )
        )
        # Enforced conditional writes: "Enforce conditional writes on Amazon S3 buckets", Amazon S3 User
        # Guide (docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html). A bucket
        # policy can require the If-None-Match header with the condition key s3:if-none-match; a request
        # without the header has no value for the key, hence Null = true. s3:ObjectCreationOperation is
        # true for the requests that create the object (PutObject, CompleteMultipartUpload) and false for
        # CreateMultipartUpload and UploadPart, which take no conditional header: the guide says to
        # exempt them that way, or no multipart upload could ever succeed. CopyObject into the prefixes
        # is refused too (the guide's note), which suits an append-only archive.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyWritesThatMayOverwrite",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=archived,
                conditions={
                    "Null": {"s3:if-none-match": "true"},
                    "Bool": {"s3:ObjectCreationOperation": "true"},
                },
            )
        )

    @property
    def archived_object_arns(self) -> list[str]:
        """ARN patterns of the archive's objects: ``<bucket arn>/events/*`` and ``.../quarantine/*``."""
        return [self.bucket.arn_for_objects(f"{prefix}*") for prefix in ARCHIVE_PREFIXES]

    def grant_append(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` add objects under the archive's prefixes (with If-None-Match), nothing more.

        s3:PutObject on ``events/*`` and ``quarantine/*`` and the key's encrypting actions. The bucket
        has Object Lock, so a PutObject must carry Content-MD5 or a checksum header (boto3 sends a
        CRC32 checksum by default since 1.36). cdk-nag's AwsSolutions-IAM5 findings for the two prefix
        patterns are acknowledged on the grantee, with the reason (see _acknowledge_prefix_wildcards).
        """
        objects = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=self.archived_object_arns,
            resource=self.bucket,
        )
        self._acknowledge_prefix_wildcards(
            grantee,
            "Appends objects whose keys are made at run time (one per batch and partition): the grant "
            "is scoped to the prefix of the archive's layout, the bucket policy forbids overwrites and "
            "deletes there.",
        )
        return objects.combine(self.key.grant(grantee, *_KMS_APPEND_ACTIONS))

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list the bucket and read the archived objects (what Athena needs)."""
        listing = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resource_arns=[self.bucket.bucket_arn],
            resource=self.bucket,
        )
        objects = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=self.archived_object_arns,
            resource=self.bucket,
        )
        self._acknowledge_prefix_wildcards(
            grantee,
            "Reads the archive's partitions (Athena scans them): scoped to the prefixes of the "
            "archive's layout, read-only.",
        )
        return listing.combine(objects).combine(self.key.grant_decrypt(grantee))

    def _acknowledge_prefix_wildcards(self, grantee: iam.IGrantable, reason: str) -> None:
        """Acknowledge cdk-nag's AwsSolutions-IAM5 for exactly the prefix patterns a grant adds.

        The finding is on the grantee's policy; it is acknowledged on the principal that holds that
        policy, finding by finding (the resource as cdk-nag renders it), so that any other wildcard in
        the same policy is still reported. Only in the bucket's stack: elsewhere the policy names the
        bucket through an import, and the finding is left for the grantee's owner to judge.
        """
        holder = grantee.grant_principal if isinstance(grantee.grant_principal, Construct) else grantee
        stack = Stack.of(self.bucket)
        if not isinstance(holder, Construct) or Stack.of(holder) is not stack:
            return
        logical_id = stack.resolve(stack.get_logical_id(cast(CfnElement, self.bucket.node.default_child)))
        for pattern in ARCHIVE_PREFIXES:
            Validations.of(holder).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{pattern}*]",
                    reason=reason,
                )
            )


def _retention(mode: s3.ObjectLockMode, duration: Duration) -> s3.ObjectLockRetention:
    if mode == s3.ObjectLockMode.COMPLIANCE:
        return s3.ObjectLockRetention.compliance(duration)
    return s3.ObjectLockRetention.governance(duration)


def _storage_transitions(
    infrequent_access_after: Duration, glacier_ir_after: Duration | None
) -> list[tuple[s3.StorageClass, Duration]]:
    """The lifecycle's transitions, refused here with a readable message rather than by S3 at deploy."""
    ia_days = infrequent_access_after.to_days()
    if ia_days < _MIN_DAYS_BEFORE_IA:
        raise ValueError(
            f"transition_to_infrequent_access_after is {ia_days} days: "
            f"S3 needs at least {_MIN_DAYS_BEFORE_IA}"
        )
    transitions = [(s3.StorageClass.INFREQUENT_ACCESS, infrequent_access_after)]
    if glacier_ir_after is not None:
        glacier_days = glacier_ir_after.to_days()
        if glacier_days < ia_days + _MIN_DAYS_IN_IA:
            raise ValueError(
                f"transition_to_glacier_ir_after is {glacier_days} days: S3 needs it at least "
                f"{_MIN_DAYS_IN_IA} days after transition_to_infrequent_access_after ({ia_days} days)"
            )
        transitions.append((s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, glacier_ir_after))
    return transitions
