"""CloudWatch Logs sink: for hosts whose standard output does not reach CloudWatch (EMR on EC2 steps).

Events are buffered and sent with PutLogEvents, one log event per JSON line, timestamped with the
event's own ``event_time``. There is no background thread: emit() sends when a batch is full or its
oldest event has waited ``flush_interval`` seconds, and the library flushes when a run ends, at
interpreter exit and on SIGTERM.
"""

from __future__ import annotations

import calendar
import datetime
import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from lineage_lib import env
from lineage_lib.contract import CLOUDWATCH_EVENT_OVERHEAD, Field
from lineage_lib.errors import LineageConfigError, LineageEmitError

# PutLogEvents' own limits: events and bytes (UTF-8 message + 26 bytes each) per call, time span.
MAX_BATCH_EVENTS: Final = 10_000
MAX_BATCH_BYTES: Final = 1_048_576
MAX_BATCH_SPAN_MS: Final = 24 * 60 * 60 * 1000
DEFAULT_FLUSH_INTERVAL: Final = 5.0


class _Pending(NamedTuple):
    timestamp: int  # first, then seq: sorting pending events gives chronological, then emission order
    seq: int
    message: str
    size: int  # what the event counts against a batch: UTF-8 bytes + the per-event overhead
    arrived: float  # time.monotonic() when emitted, for the flush interval


def default_log_stream() -> str:
    """``lineage/<yyyy>/<mm>/<dd>/<host>/<uuid4 hex>``: unique per process, easy to find by day and host."""
    host = socket.gethostname().replace(":", "-").replace("*", "-") or "unknown-host"  # ':' '*' refused
    return f"lineage/{time.strftime('%Y/%m/%d', time.gmtime())}/{host}/{uuid.uuid4().hex}"


def epoch_millis(event_time: object) -> int:
    """Milliseconds since the epoch of an event_time (RFC 3339 UTC, ``2024-05-01T12:00:00.123Z``)."""
    if isinstance(event_time, str) and len(event_time) >= 20 and event_time.endswith("Z"):
        try:
            whole = datetime.datetime.strptime(event_time[:19], "%Y-%m-%dT%H:%M:%S")
            fraction = event_time[20:-1] if event_time[19] == "." else ""
            return calendar.timegm(whole.timetuple()) * 1000 + int((fraction + "000")[:3])
        except ValueError:
            pass
    # Lenient mode may emit an event without a usable time: it still needs a timestamp to be sent.
    return int(time.time() * 1000)


def _new_logs_client() -> Any:
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
        raise LineageEmitError(f"could not create a CloudWatch Logs client: {_aws_reason(err)}") from err


def _aws_reason(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):  # ClientError: the service's own code and message
        error = response.get("Error", {})
        operation = getattr(err, "operation_name", "the call")
        return f"{operation} failed with {error.get('Code', 'Unknown')}: {error.get('Message', '')}"
    return f"{type(err).__name__}: {err}"  # BotoCoreError: no region or credentials, endpoint unreachable


def _rejected(info: Mapping[str, int], batch_size: int) -> str:
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


class CloudWatchLogsSink:
    """Buffers JSON lines and sends them to one log stream with PutLogEvents.

    A failed flush raises LineageEmitError and keeps every unsent event buffered, so a later flush
    retries them; a flush tries each batch once, so a flush at exit always ends.
    """

    def __init__(
        self,
        log_group: str,
        log_stream: str | None = None,
        *,
        client: Any = None,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        if not log_group:
            raise LineageConfigError(f"CloudWatchLogsSink needs a log group name (or set {env.LOG_GROUP})")
        if not (0 < max_batch_events <= MAX_BATCH_EVENTS and 0 < max_batch_bytes <= MAX_BATCH_BYTES):
            limits = f"{MAX_BATCH_EVENTS} events, {MAX_BATCH_BYTES} bytes"
            raise LineageConfigError(f"batch limits must be positive and within PutLogEvents' own: {limits}")
        self.log_group = log_group
        self.log_stream = log_stream or default_log_stream()
        self.max_batch_events = max_batch_events
        self.max_batch_bytes = max_batch_bytes
        self.flush_interval = flush_interval
        self._client = client
        self._owns_client = client is None
        self._stream_ready = False
        self._buffer: list[_Pending] = []  # emission order
        self._buffer_bytes = 0
        self._seq = itertools.count()
        self._retry_at = 0.0  # after a failure, emit() waits one interval before trying again
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may emit during a flush

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> CloudWatchLogsSink:
        """The sink LINEAGE_SINK=cloudwatch selects: LINEAGE_LOG_GROUP (required), LINEAGE_LOG_STREAM."""
        environ = os.environ if environ is None else environ
        group = environ.get(env.LOG_GROUP)
        if not group:
            raise LineageConfigError(
                f"{env.SINK}=cloudwatch needs {env.LOG_GROUP}: set it to the name of the log group "
                f"that receives lineage events (optionally {env.LOG_STREAM} too), or use {env.SINK}=stdout"
            )
        return cls(group, environ.get(env.LOG_STREAM) or None)

    @property
    def pending(self) -> int:
        """How many events are buffered, not yet accepted by CloudWatch Logs."""
        with self._lock:
            return len(self._buffer)

    def emit(self, line: str, event: Mapping[str, Any]) -> None:
        with self._lock:
            now = time.monotonic()
            size = len(line.encode("utf-8")) + CLOUDWATCH_EVENT_OVERHEAD
            entry = _Pending(epoch_millis(event.get(Field.EVENT_TIME)), next(self._seq), line, size, now)
            full = len(self._buffer) >= self.max_batch_events
            full = full or self._buffer_bytes + size > self.max_batch_bytes
            if full and now >= self._retry_at:
                try:
                    self._flush_locked()  # send what is buffered before it outgrows one batch
                finally:
                    self._append(entry)  # kept even when that flush failed: nothing is lost
            else:
                self._append(entry)
            if self._client is None:
                # Now rather than at the first flush, which may come at interpreter exit: importing
                # boto3 then fails (it registers a threading exit hook, which Python refuses then).
                self._client = _new_logs_client()
            if now >= self._retry_at and now - self._buffer[0].arrived >= self.flush_interval:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        with self._lock:
            try:
                self._flush_locked()
            finally:
                if self._owns_client and self._client is not None:
                    self._client.close()  # a later flush (at exit) creates a new one if needed
                    self._client = None

    def _append(self, entry: _Pending) -> None:
        self._buffer.append(entry)
        self._buffer_bytes += entry.size

    def _flush_locked(self) -> None:
        if not self._buffer:
            return
        if self._client is None:  # closed, or the first emit could not create it
            self._client = _new_logs_client()
        from botocore.exceptions import BotoCoreError, ClientError  # imported with the client

        rejections = []
        try:
            if not self._stream_ready:
                self._create_stream()
            for batch in self._batches(sorted(self._buffer)):
                rejected = self._put(batch)
                self._forget(batch)  # accepted, or rejected for good: sending again cannot help
                if rejected:
                    rejections.append(rejected)
        except (LineageEmitError, ClientError, BotoCoreError) as err:
            self._retry_at = time.monotonic() + self.flush_interval
            if isinstance(err, LineageEmitError):
                raise
            raise LineageEmitError(self._failure(_aws_reason(err))) from err
        if rejections:
            raise LineageEmitError(
                f"CloudWatch Logs rejected lineage events sent to {self.log_group}/{self.log_stream}: "
                f"{'; '.join(rejections)}. They are lost: check this host's clock and the group's retention."
            )

    def _failure(self, reason: str) -> str:
        return (
            f"could not send lineage events to CloudWatch Logs {self.log_group}/{self.log_stream}: "
            f"{reason}. {len(self._buffer)} events stay buffered and are retried on the next flush."
        )

    def _batches(self, pending: list[_Pending]) -> list[list[_Pending]]:
        """Chronological batches within PutLogEvents' limits (count, bytes, 24-hour span)."""
        batches: list[list[_Pending]] = []
        batch: list[_Pending] = []
        size = 0
        for entry in pending:
            if batch and (
                len(batch) >= self.max_batch_events
                or size + entry.size > self.max_batch_bytes
                or entry.timestamp - batch[0].timestamp >= MAX_BATCH_SPAN_MS
            ):
                batches.append(batch)
                batch, size = [], 0
            batch.append(entry)  # an event over the byte limit on its own still goes: no endless loop
            size += entry.size
        if batch:
            batches.append(batch)
        return batches

    def _forget(self, batch: list[_Pending]) -> None:
        # By identity, not position: a re-entrant flush (signal handler) may have changed the buffer.
        sent = {entry.seq for entry in batch}
        self._buffer = [entry for entry in self._buffer if entry.seq not in sent]
        self._buffer_bytes = sum(entry.size for entry in self._buffer)

    def _create_stream(self) -> None:
        client = self._client
        try:
            client.create_log_stream(logGroupName=self.log_group, logStreamName=self.log_stream)
        except client.exceptions.ResourceAlreadyExistsException:
            pass
        except client.exceptions.ResourceNotFoundException as err:
            # Not created here: the group's retention, encryption and permissions belong to the stack.
            raise LineageEmitError(
                self._failure(
                    f"log group {self.log_group!r} does not exist. Create it (or deploy the lineage-plane "
                    "stack that creates it) and grant this job's role logs:CreateLogStream and "
                    "logs:PutLogEvents on it"
                )
            ) from err
        self._stream_ready = True

    def _put(self, batch: list[_Pending]) -> str:
        """Send one batch; return what CloudWatch rejected of it, in words ('' if nothing)."""
        client = self._client
        request = {
            "logGroupName": self.log_group,
            "logStreamName": self.log_stream,
            "logEvents": [{"timestamp": e.timestamp, "message": e.message} for e in batch],
        }
        try:
            response = client.put_log_events(**request)
        except client.exceptions.ResourceNotFoundException:
            # The stream was deleted since it was created: create it again (this also tells a
            # missing group apart) and retry once; a second failure propagates.
            self._stream_ready = False
            self._create_stream()
            response = client.put_log_events(**request)
        return _rejected(response.get("rejectedLogEventsInfo") or {}, len(batch))
