"""Where serialised events go. Each sink is a small class with emit(), flush() and close()."""

from __future__ import annotations

from lineage_lib.sinks.base import Sink
from lineage_lib.sinks.memory import MemorySink
from lineage_lib.sinks.stdout import StdoutSink

__all__ = ["CloudWatchLogsSink", "MemorySink", "Sink", "StdoutSink"]


def __getattr__(name: str) -> object:
    # The CloudWatch sink imports boto3 lazily; keep `import lineage_lib` free of it.
    if name == "CloudWatchLogsSink":
        from lineage_lib.sinks.cloudwatch import CloudWatchLogsSink

        return CloudWatchLogsSink
    raise AttributeError(name)
