"""Lambda entry point of the validator, invoked by CloudWatch Logs subscription filters.

Thin: Powertools decodes the payload (base64, gzip, JSON), lambdas.common.service does the work,
and the counts become EMF metrics (names: lineage_lib.plane.ValidatorMetrics) that the stack's
alarms watch. Settings and AWS clients are made on the first invocation, not at import.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent, event_source
from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import CloudWatchLogsDecodedData
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.common.ingest import Delivery, LogEvent
from lambdas.common.service import Report, Validator
from lambdas.common.settings import Settings
from lineage_lib.plane import Archive, SubscriptionMessage, ValidatorMetrics

logger = Logger()
metrics = Metrics(namespace=ValidatorMetrics.NAMESPACE)


@functools.cache
def validator() -> Validator:
    """The function's validator, built once per execution environment from its environment."""
    settings = Settings.from_environment(os.environ)
    session = boto3.session.Session(region_name=settings.region)
    return Validator.from_settings(settings, s3=session.client("s3"), dynamodb=session.client("dynamodb"))


def delivery_of(data: CloudWatchLogsDecodedData) -> Delivery:
    raw: dict[str, Any] = data.raw_event
    return Delivery(
        owner=raw["owner"],
        log_group=raw["logGroup"],
        log_stream=raw["logStream"],
        log_events=[LogEvent(e["id"], e["timestamp"], e["message"]) for e in raw["logEvents"]],
    )


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=CloudWatchLogsEvent)
def handler(event: CloudWatchLogsEvent, context: LambdaContext) -> dict[str, int]:
    data = event.parse_logs_data()
    if data.message_type == SubscriptionMessage.CONTROL:
        logger.info("control message acknowledged", extra={"log_group": data.log_group})
        return {"received": 0}
    report = validator().process(delivery_of(data))
    record(report)
    return report.summary()


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
