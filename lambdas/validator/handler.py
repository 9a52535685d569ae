"""Lambda entry point of the validator, invoked by CloudWatch Logs subscription filters.

Thin: Powertools decodes the payload (base64, gzip, JSON), lambdas.common.service does the work,
and the counts become EMF metrics (names: lineage_plane.functions.ValidatorMetrics) that the stack's
alarms watch. Settings and AWS clients are made on the first invocation, not at import.

A payload that is not a subscription's (not base64, gzip or JSON, or without its fields) is an
unreadable delivery: it never becomes readable, so it is not retried. It is kept whole in the
archive's quarantine (code ``unreadable_delivery``), logged as an error with its problem, counted
in the ``UnreadableDeliveries`` metric, and acknowledged. Only a failure to keep it raises.
"""

from __future__ import annotations

import functools
import json
import os
import zlib
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent, event_source
from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import CloudWatchLogsDecodedData
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.common.errors import UnreadableDeliveryError
from lambdas.common.service import Report, Validator
from lambdas.common.settings import Settings
from lineage_plane.functions import ValidatorMetrics
from lineage_plane.ingest import Delivery, LogEvent
from lineage_plane.layout import Archive, SubscriptionMessage

logger = Logger()
metrics = Metrics(namespace=ValidatorMetrics.NAMESPACE)


@functools.cache
def validator() -> Validator:
    """The function's validator, built once per execution environment from its environment."""
    settings = Settings.from_environment(os.environ)
    session = boto3.session.Session(region_name=settings.region)
    return Validator.from_settings(settings, s3=session.client("s3"), dynamodb=session.client("dynamodb"))


def delivery_of(data: CloudWatchLogsDecodedData) -> Delivery:
    """The decoded data as a Delivery; UnreadableDeliveryError names what is missing or wrong."""
    raw: Any = data.raw_event
    try:
        delivery = Delivery(
            owner=raw["owner"],
            log_group=raw["logGroup"],
            log_stream=raw["logStream"],
            log_events=[LogEvent(e["id"], e["timestamp"], e["message"]) for e in raw["logEvents"]],
        )
    except (KeyError, TypeError) as err:
        raise UnreadableDeliveryError(f"the decoded data has no field {err}") from err
    for name in ("owner", "log_group", "log_stream"):
        if not isinstance(getattr(delivery, name), str):
            raise UnreadableDeliveryError(f"the decoded data's {name} is not text")
    for e in delivery.log_events:
        if not (isinstance(e.id, str) and isinstance(e.message, str) and type(e.timestamp) is int):
            shape = "{id: text, timestamp: integer, message: text}"
            raise UnreadableDeliveryError(f"a log event is not {shape}: {e.id!r}")
    return delivery


def decoded(event: CloudWatchLogsEvent) -> CloudWatchLogsDecodedData:
    """awslogs.data decoded (base64, gzip, JSON); UnreadableDeliveryError when it cannot be."""
    try:
        data = event.parse_logs_data()
    except (KeyError, TypeError, ValueError, zlib.error, EOFError) as err:  # binascii and JSON: ValueError
        problem = f"awslogs.data is not base64 of gzip of JSON ({type(err).__name__}: {err})"
        raise UnreadableDeliveryError(problem) from err
    if not isinstance(data.raw_event, dict) or "messageType" not in data.raw_event:
        raise UnreadableDeliveryError("the decoded data is not a subscription's object with a messageType")
    return data


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=CloudWatchLogsEvent)
def handler(event: CloudWatchLogsEvent, context: LambdaContext) -> dict[str, int]:
    try:
        data = decoded(event)
        if data.message_type == SubscriptionMessage.CONTROL:
            logger.info("control message acknowledged", extra={"log_group": data.log_group})
            return {"received": 0}
        delivery = delivery_of(data)
    except UnreadableDeliveryError as err:
        return keep_unreadable(event, err)
    report = validator().process(delivery)
    record(report)
    return report.summary()


def keep_unreadable(event: CloudWatchLogsEvent, err: UnreadableDeliveryError) -> dict[str, int]:
    """Quarantine the payload whole, log and count it, and acknowledge it (a retry cannot help)."""
    payload = json.dumps(event.raw_event, ensure_ascii=False, default=repr)
    key = validator().keep_unreadable(payload, err.problem)
    metrics.add_metric(name=ValidatorMetrics.UNREADABLE_DELIVERIES, unit=MetricUnit.Count, value=1)
    logger.error(
        "unreadable delivery quarantined",
        extra={
            "error": type(err).__name__,
            "problem": err.problem,
            "payload_bytes": len(payload.encode("utf-8", errors="backslashreplace")),
            "object": key,
        },
    )
    return {"received": 0, "unreadable_deliveries": 1}


def record(report: Report) -> None:
    """Metrics and structured logs of one invocation."""
    summary = report.summary()
    for name, value in (
        (ValidatorMetrics.RECEIVED, summary["received"]),
        (ValidatorMetrics.ARCHIVED, summary["archived"]),
        (ValidatorMetrics.QUARANTINED, summary["quarantined"]),
        (ValidatorMetrics.IGNORED, summary["ignored"]),
        (ValidatorMetrics.DUPLICATES, summary["duplicates"]),
        (ValidatorMetrics.OBJECTS_ALREADY_PRESENT, summary["objects_already_present"]),
        (ValidatorMetrics.LOG_EVENTS, summary["log_events"]),
        (ValidatorMetrics.ALREADY_ARCHIVED, summary["already_archived"]),
        (ValidatorMetrics.RUN_STATE_REFUSED, summary["run_state_refused"]),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    outcome = report.outcome
    logger.info("batch processed", extra={"batch_id": outcome.batch_id, **summary})
    if outcome.counts.quarantined:
        logger.warning(
            "lineage events quarantined",
            extra={
                "batch_id": outcome.batch_id,
                "reasons": dict(outcome.reasons),
                "objects": [o.key for o in outcome.objects if o.key.startswith(Archive.QUARANTINE_PREFIX)],
            },
        )
    if report.state_refused:
        logger.error(
            "archived events refused by the run state, quarantined too",
            extra={"batch_id": outcome.batch_id, "refused": report.state_refused},
        )
