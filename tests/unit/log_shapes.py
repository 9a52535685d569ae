"""How a lineage line looks in CloudWatch Logs, shape by shape, for the validator's tests."""

from __future__ import annotations

import json
from typing import Any

REQUEST_ID = "8f5f1c2e-1b7a-4d0e-9c4b-2e6f0a1d3c55"


def lambda_record(message: Any) -> str:
    """A log event of a Lambda function using the JSON log format."""
    return json.dumps(
        {
            "timestamp": "2026-11-21T05:00:00.123Z",
            "level": "INFO",
            "message": message,
            "logger": "root",
            "requestId": REQUEST_ID,
        }
    )


def lambda_text(text: str) -> str:
    """A log event of a Lambda function using the text log format (Python's default handler)."""
    return f"[INFO]\t2026-11-21T05:00:00.123Z\t{REQUEST_ID}\t{text}"


def spark_driver(text: str) -> str:
    """A log event of a Spark driver, log4j pattern ``%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m``."""
    return f"26/11/21 05:00:01 INFO LineageEmitter: {text}"
