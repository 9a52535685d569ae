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


class RunStateWriteError(PlaneError):
    """DynamoDB refused a run-state transaction for a reason a retry will not change."""

    def __init__(self, reasons: list[str], items: list[str]) -> None:
        self.reasons = reasons
        super().__init__(
            f"DynamoDB refused the run-state transaction ({', '.join(reasons)}) for items "
            f"{', '.join(items[:5])}; the batch stays archived and will be retried, then kept in the "
            "dead-letter queue: check the table's limits and the items named"
        )


class RunStateConflictError(PlaneError):
    """Run-state transactions kept conflicting with other writers; the invocation is retried."""

    def __init__(self, pending: int, tries: int) -> None:
        super().__init__(
            f"{pending} events could not be applied to the run state after {tries} conflicting "
            "transactions; the batch will be retried (throttling or a hot run: check the table's "
            "throttle metrics)"
        )
