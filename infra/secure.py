"""Secure defaults the plane's constructs share, decided once."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import aws_s3 as s3

# Every bucket of the plane: no public access, no ACLs, TLS 1.2 or newer only, and versions kept.
# Spread into s3.Bucket(...) beside the bucket's own encryption, logging and lifecycle.
SECURE_BUCKET: Final[dict[str, Any]] = {
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    "enforce_ssl": True,
    "minimum_tls_version": 1.2,
    "versioned": True,
}
