"""Which sink a run writes to when the job names none: LINEAGE_SINK, or the test capture's."""

from __future__ import annotations

import functools
import os
import threading

from lineage_lib import env
from lineage_lib.errors import LineageConfigError
from lineage_lib.sinks.base import Sink

_sink_override: Sink | None = None  # set by lineage_lib.testing.capture()
_override_lock = threading.Lock()


def swap_sink_override(sink: Sink | None) -> Sink | None:
    """Make ``sink`` the sink of every run started from now on (None: back to LINEAGE_SINK); returns
    the previous override. Used by lineage_lib.testing.capture()."""
    global _sink_override
    with _override_lock:
        previous, _sink_override = _sink_override, sink
    return previous


def default_sink() -> Sink:
    """The sink chosen by LINEAGE_SINK (stdout unless told otherwise), or the test capture's."""
    if _sink_override is not None:
        return _sink_override
    kind = (os.environ.get(env.SINK) or "stdout").lower()
    if kind == "stdout":
        from lineage_lib.sinks.stdout import StdoutSink

        return StdoutSink()
    if kind == "cloudwatch":
        return _process_cloudwatch_sink()
    raise LineageConfigError(f"{env.SINK}={kind!r}: choose 'stdout' (default) or 'cloudwatch'")


def _process_cloudwatch_sink() -> Sink:
    """One CloudWatch sink (one client, one log stream) for every run of the process."""
    return _cloudwatch_sink_for(os.environ.get(env.LOG_GROUP), os.environ.get(env.LOG_STREAM))


@functools.lru_cache(maxsize=8)
def _cloudwatch_sink_for(log_group: str | None, log_stream: str | None) -> Sink:
    from lineage_lib.sinks.cloudwatch import CloudWatchLogsSink

    settings = {env.LOG_GROUP: log_group, env.LOG_STREAM: log_stream}
    return CloudWatchLogsSink.from_environment({k: v for k, v in settings.items() if v})
