"""CloudWatch Logs sink: for hosts whose standard output does not reach CloudWatch (EMR on EC2 steps).

Events are buffered and sent with PutLogEvents, one log event per JSON line, timestamped with the
event's own ``event_time``. There is no background thread: emit() sends when a batch is full or its
oldest event has waited ``flush_interval`` seconds, and the library flushes when a run ends, at
interpreter exit and on SIGTERM.

When the process stops (lineage_lib._lifecycle), the sink is held (it only buffers), then flushed
once with ``flush_within(seconds)``: every call with timeouts that fit the time left and no retry,
and what it could not send goes to standard error as lineage lines, one JSON line each (Glue and
Lambda ship standard error to CloudWatch Logs too; EMR keeps it in the step's logs). In a forked
child, the buffer inherited from the parent is emptied: those events are the parent's to send.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Final

from lineage_lib import env
from lineage_lib.contract import CLOUDWATCH_EVENT_OVERHEAD, Field
from lineage_lib.errors import LineageConfigError, LineageEmitError
from lineage_lib.sinks._aws import aws_reason, bounded_logs_client, new_logs_client, rejected_in_words
from lineage_lib.sinks._batches import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    Pending,
    batches,
    default_log_stream,
    epoch_millis,
)
from lineage_lib.sinks.stdout import write_text

DEFAULT_FLUSH_INTERVAL: Final = 5.0
_MIN_CALL_SECONDS: Final = 0.05  # a stop's call with less time left than this is not attempted

_sinks: weakref.WeakSet[CloudWatchLogsSink] = weakref.WeakSet()  # for the fork hook below


class CloudWatchLogsSink:
    """Buffers JSON lines and sends them to one log stream with PutLogEvents.

    A failed flush raises LineageEmitError and keeps every unsent event buffered, so a later flush
    retries them; a flush tries each batch once, so a flush at exit always ends. The stop's flush
    (``flush_within``) is bounded in time with the sink's own client; a client passed in is used as
    it is configured (give it short timeouts).
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
        self._buffer: list[Pending] = []  # emission order
        self._buffer_bytes = 0
        self._seq = itertools.count()
        self._retry_at = 0.0  # after a failure, emit() waits one interval before trying again
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may emit during a flush
        self._held = False  # the process is stopping: buffer only, flush_within() sends
        self._stop_client: Any = None
        self._stop_client_budget = 0.0
        _sinks.add(self)

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
            entry = Pending(epoch_millis(event.get(Field.EVENT_TIME)), next(self._seq), line, size, now)
            if self._held:
                self._append(entry)
                return
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
                self._client = new_logs_client()
            if now >= self._retry_at and now - self._buffer[0].arrived >= self.flush_interval:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def hold(self) -> None:
        """The process is stopping: from now on emit() and flush() only buffer; flush_within() sends."""
        self._held = True

    def flush_within(self, seconds: float) -> None:
        """Send what is buffered within ``seconds``, then write what could not be sent to standard
        error as lineage lines; the buffer is empty afterwards. Never raises: the process is ending."""
        deadline = time.monotonic() + seconds
        if not self._lock.acquire(timeout=max(seconds / 2, 0.0)):
            # Another thread is in a flush that does not end in time: the buffer list is only ever
            # replaced whole, so this snapshot is consistent. Written rather than lost (at worst twice).
            self._write_out(sorted(self._buffer), "another thread was still sending them")
            return
        try:
            reason = ""
            if self._buffer:
                try:
                    rejected = self._send_before(deadline)
                except Exception as err:  # whatever went wrong, what is left goes to stderr below
                    reason = aws_reason(err) if not isinstance(err, LineageEmitError) else str(err)
                else:
                    if rejected:
                        write_text(sys.stderr, f"lineage_lib: CloudWatch Logs rejected: {rejected}\n")
            self._spill(reason or "the stop's deadline passed")
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            try:
                self._flush_locked()
            finally:
                if self._owns_client and self._client is not None:
                    self._client.close()  # a later flush (at exit) creates a new one if needed
                    self._client = None

    def _append(self, entry: Pending) -> None:
        self._buffer.append(entry)
        self._buffer_bytes += entry.size

    def _flush_locked(self) -> None:
        if not self._buffer or self._held:
            return
        if self._client is None:  # closed, or the first emit could not create it
            self._client = new_logs_client()
        from botocore.exceptions import BotoCoreError, ClientError  # imported with the client

        rejections = []
        try:
            if not self._stream_ready:
                self._create_stream(self._client)
            for batch in batches(sorted(self._buffer), self.max_batch_events, self.max_batch_bytes):
                rejected = self._put(batch, self._client)
                self._forget(batch)  # accepted, or rejected for good: sending again cannot help
                if rejected:
                    rejections.append(rejected)
        except (LineageEmitError, ClientError, BotoCoreError) as err:
            self._retry_at = time.monotonic() + self.flush_interval
            if isinstance(err, LineageEmitError):
                raise
            raise LineageEmitError(self._failure(aws_reason(err))) from err
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

    def _forget(self, batch: list[Pending]) -> None:
        # By identity, not position: a re-entrant flush (signal handler) may have changed the buffer.
        sent = {entry.seq for entry in batch}
        self._buffer = [entry for entry in self._buffer if entry.seq not in sent]
        self._buffer_bytes = sum(entry.size for entry in self._buffer)

    def _send_before(self, deadline: float) -> str:
        """Send the buffer, each call with the time left until ``deadline``; what was rejected."""
        from botocore.exceptions import BotoCoreError, ClientError  # imported with the client

        rejections = []
        try:
            if not self._stream_ready:
                self._create_stream(self._client_before(deadline))
            for batch in batches(sorted(self._buffer), self.max_batch_events, self.max_batch_bytes):
                rejected = self._put(batch, self._client_before(deadline))
                self._forget(batch)
                if rejected:
                    rejections.append(rejected)
        except (ClientError, BotoCoreError) as err:
            raise LineageEmitError(aws_reason(err)) from err
        return "; ".join(rejections)

    def _client_before(self, deadline: float) -> Any:
        """A client whose call ends by ``deadline``: this sink's own, remade with shorter timeouts as
        the time left shrinks (a client passed in is used as it is)."""
        left = deadline - time.monotonic()
        if left < _MIN_CALL_SECONDS:
            raise LineageEmitError("the stop's deadline passed")
        if not self._owns_client:
            return self._client
        if self._stop_client is None or self._stop_client_budget > left:
            self._stop_client, self._stop_client_budget = bounded_logs_client(left), left
        return self._stop_client

    def _spill(self, reason: str) -> None:
        """Write what is buffered to standard error as lineage lines, and forget it."""
        entries = sorted(self._buffer)
        self._buffer, self._buffer_bytes = [], 0
        self._write_out(entries, reason)

    def _write_out(self, entries: list[Pending], reason: str) -> None:
        if entries:
            note = (
                f"lineage_lib: {len(entries)} lineage events could not be sent to CloudWatch Logs "
                f"{self.log_group}/{self.log_stream} before the process stopped ({reason}); they follow, "
                "one JSON line each\n"
            )
            write_text(sys.stderr, note + "".join(entry.message + "\n" for entry in entries))

    def _forget_parent_buffer(self) -> None:
        """In a forked child: what the parent buffered is the parent's to send."""
        self._lock = threading.RLock()
        self._buffer, self._buffer_bytes = [], 0
        self._retry_at = 0.0
        self._held = False
        self._stop_client = None
        if self._owns_client:
            self._client = None  # its connections are the parent's

    def _create_stream(self, client: Any) -> None:
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

    def _put(self, batch: list[Pending], client: Any) -> str:
        """Send one batch; return what CloudWatch rejected of it, in words ('' if nothing)."""
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
            self._create_stream(client)
            response = client.put_log_events(**request)
        return rejected_in_words(response.get("rejectedLogEventsInfo") or {}, len(batch))


def _forget_parent_buffers() -> None:
    for sink in list(_sinks):
        sink._forget_parent_buffer()


os.register_at_fork(after_in_child=_forget_parent_buffers)
