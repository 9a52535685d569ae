"""Append-only writes to the archive bucket.

Every object is written with ``If-None-Match: *``: S3 refuses to replace an existing key (412), so a
retried invocation, which builds the same keys from the same batch, cannot overwrite or duplicate
what an earlier attempt wrote; an object that already exists is counted as already archived.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.common.errors import ArchiveWriteError
from lineage_plane.archive_object import CONTENT_TYPE, ArchiveObject

_ALREADY_EXISTS: Final = "PreconditionFailed"  # 412: If-None-Match found the key
_CONCURRENT_WRITE: Final = "ConditionalRequestConflict"  # 409: another conditional write in flight


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    requests: int = 0


class ArchiveWriter:
    """Writes archive objects to one bucket. The client is a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def write(self, objects: Iterable[ArchiveObject]) -> WriteResult:
        """Write every object that is not there yet; raises ArchiveWriteError on any other failure."""
        result = WriteResult()
        for obj in objects:
            body = obj.body()
            for tries_left in (1, 0):
                result.requests += 1
                try:
                    self._client.put_object(
                        Bucket=self._bucket,
                        Key=obj.key,
                        Body=body,
                        IfNoneMatch="*",
                        ChecksumAlgorithm="CRC32",  # Object Lock buckets refuse a put without one
                        ContentType=CONTENT_TYPE,
                    )
                except ClientError as err:
                    code = err.response.get("Error", {}).get("Code", "")
                    if code == _ALREADY_EXISTS:
                        result.already_present.append(obj.key)
                        break
                    if code == _CONCURRENT_WRITE and tries_left:
                        continue
                    raise ArchiveWriteError(obj.key, f"{code}: {err}") from err
                except BotoCoreError as err:  # no response at all: endpoint, credentials, timeout
                    raise ArchiveWriteError(obj.key, str(err)) from err
                result.written.append(obj.key)
                break
        return result
