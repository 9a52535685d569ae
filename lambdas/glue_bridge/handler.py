"""Lambda entry point of the Glue bridge, invoked by the EventBridge rule on "Glue Job State Change".

Thin: Powertools' EventBridgeEvent reads the envelope, lambdas.glue_bridge.service does the work,
and the verdicts become EMF metrics (names: lineage_plane.functions.BridgeMetrics): LineageGaps, watched by
the stack's alarm, counts runs Glue ran that left no lineage at all. Settings and AWS clients are made
on the first invocation, not at import.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.common.service import Validator
from lambdas.glue_bridge.glue import GlueRuns, GlueStateChange
from lambdas.glue_bridge.service import GlueBridge, Observation
from lambdas.glue_bridge.settings import BridgeSettings
from lineage_plane.functions import BridgeMetrics
from lineage_plane.run_table import Reconciliation

logger = Logger()
metrics = Metrics(namespace=BridgeMetrics.NAMESPACE)

# the metric each verdict of a new observation counts in
VERDICT_METRICS = {
    Reconciliation.GAP: BridgeMetrics.LINEAGE_GAPS,
    Reconciliation.INCOMPLETE: BridgeMetrics.INCOMPLETE_RUNS,
    Reconciliation.DISAGREEMENT: BridgeMetrics.DISAGREEMENTS,
}


@functools.cache
def settings() -> BridgeSettings:
    return BridgeSettings.from_environment(os.environ)


@functools.cache
def bridge(account: str) -> GlueBridge:
    """The function's bridge, built once per execution environment from its environment."""
    config = settings()
    session = boto3.session.Session(region_name=config.plane.region)
    platform_lineage = None
    if config.datazone_domain_id:
        from lambdas.glue_bridge.datazone import DataZoneLineage

        platform_lineage = DataZoneLineage(
            session.client("datazone"), config.datazone_domain_id, account=account
        )
    validator = Validator.from_settings(
        config.plane, s3=session.client("s3"), dynamodb=session.client("dynamodb")
    )
    return GlueBridge(
        validator=validator,
        run_state=validator.run_state,
        glue=GlueRuns(session.client("glue")),
        account=account,
        region=config.plane.region,
        platform_lineage=platform_lineage,
    )


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    change = GlueStateChange.from_event(
        event.detail, time=event.time, account=event.account, region=event.region
    )
    glue_bridge = bridge(event.account)
    observation = glue_bridge.on_state_change(change)
    record(observation)  # before DataZone is read: a refusal there must not lose these counts
    read = glue_bridge.add_platform_lineage(observation)
    metrics.add_metric(name=BridgeMetrics.LINEAGE_EVENTS_READ, unit=MetricUnit.Count, value=read)
    logger.info("glue run observed", extra=observation.summary())
    return observation.summary()


def record(observation: Observation) -> None:
    """Metrics and a structured log line for one observation (a replay counts nothing)."""
    metrics.add_metric(name=BridgeMetrics.RUNS_OBSERVED, unit=MetricUnit.Count, value=int(observation.new))
    if observation.new:
        metric = VERDICT_METRICS.get(observation.verdict or "")
        if metric is not None:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if not observation.found:
        metrics.add_metric(name=BridgeMetrics.RUNS_NOT_FOUND, unit=MetricUnit.Count, value=1)
    if observation.new and observation.verdict in VERDICT_METRICS:
        logger.warning("glue run's lineage is %s", observation.verdict, extra=observation.summary())
