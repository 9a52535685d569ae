"""Typed errors of the plane's functions. Each says what happened and what to do."""

from __future__ import annotations

from lineage_lib.errors import LineageConfigError, LineageError


class PlaneError(LineageError):
    """Root of the errors the plane's functions raise."""


class SettingsError(LineageConfigError, PlaneError):
    """A function's environment is missing a variable or holds a value it cannot use."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(
            f"environment variable {name} {problem}; the CDK app sets it on the function "
            "(infra/), set it yourself when you run the handler elsewhere"
        )


class ArchiveWriteError(PlaneError):
    """An archive object could not be written. The invocation fails so that Lambda retries it; the
    objects already written are kept and recognised on the retry (conditional writes)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(
            f"could not write s3 object {key!r}: {reason}. The batch will be retried; check the "
            "function's s3:PutObject permission on the archive bucket and its KMS key"
        )


class RunStateConflictError(PlaneError):
    """Run-state transactions kept conflicting with other writers; the invocation is retried."""

    def __init__(self, pending: int, tries: int) -> None:
        super().__init__(
            f"{pending} events could not be applied to the run state after {tries} conflicting "
            "transactions; the batch will be retried (throttling or a hot run: check the table's "
            "throttle metrics)"
        )


class UnreadableDeliveryError(PlaneError):
    """A payload that is not a CloudWatch Logs subscription's: not base64, not gzip, not JSON, or
    without the fields every delivery has. It will never become readable: the validator keeps it in
    the quarantine (code unreadable_delivery) and acknowledges it instead of having it retried."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(
            f"unreadable delivery: {problem}. CloudWatch Logs never sends this: check what invokes "
            "the function (only the plane's subscription filters should); the payload is kept in the "
            "archive's quarantine under the code unreadable_delivery"
        )
