"""The CloudWatch sink's AWS side: Logs clients (boto3, imported lazily), AWS answers in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lineage_lib.errors import LineageConfigError, LineageEmitError


def new_logs_client() -> Any:
    # Imported here, not at module level: `import lineage_lib` must stay free of boto3.
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError as err:
        raise LineageConfigError("the cloudwatch sink needs boto3: install 'lineage-plane[aws]'") from err
    # Standard retries back off on throttling and 5xx; bounded timeouts keep a flush at interpreter
    # exit from hanging for minutes when the endpoint is unreachable. Region: from the environment.
    config = Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=30)
    try:
        return boto3.client("logs", config=config)
    except BotoCoreError as err:  # no region, unknown profile...
        raise LineageEmitError(f"could not create a CloudWatch Logs client: {aws_reason(err)}") from err


def aws_reason(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):  # ClientError: the service's own code and message
        error = response.get("Error", {})
        operation = getattr(err, "operation_name", "the call")
        return f"{operation} failed with {error.get('Code', 'Unknown')}: {error.get('Message', '')}"
    return f"{type(err).__name__}: {err}"  # BotoCoreError: no region or credentials, endpoint unreachable


def rejected_in_words(info: Mapping[str, int], batch_size: int) -> str:
    """What PutLogEvents' rejectedLogEventsInfo says, in words ('' when nothing was rejected)."""
    reasons = []
    # An end index is exclusive, so it counts the events before it; max(.., 1) because the key is
    # only present when something was rejected (moto reports the last index, inclusive).
    if info.get("tooOldLogEventEndIndex") is not None:
        reasons.append(f"{max(info['tooOldLogEventEndIndex'], 1)} too old (over 14 days or the retention)")
    if info.get("expiredLogEventEndIndex") is not None:
        reasons.append(f"{max(info['expiredLogEventEndIndex'], 1)} expired (older than the retention)")
    if info.get("tooNewLogEventStartIndex") is not None:
        reasons.append(f"{batch_size - info['tooNewLogEventStartIndex']} too new (over 2 hours ahead)")
    return ", ".join(reasons)


def bounded_logs_client(seconds: float) -> Any:
    """A Logs client whose every call ends within about ``seconds`` (connect and read timeouts of
    half of it each) and is tried once: for the flush of a stopping process, which has a deadline."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    half = max(seconds / 2, 0.01)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=half, read_timeout=half
    )
    try:
        return boto3.client("logs", config=config)
    except BotoCoreError as err:
        raise LineageEmitError(f"could not create a CloudWatch Logs client: {aws_reason(err)}") from err
