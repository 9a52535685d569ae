"""Lambda entry point of the run reconciler, invoked on a schedule (an EventBridge rule).

Thin: lambdas.glue_bridge.sweep does the work, with the Glue bridge's own collaborators (so that a
Glue run is recorded the same way whichever of the two sees its end first); the outcome becomes EMF
metrics (names: lineage_plane.functions.BridgeMetrics), gaps included.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.glue_bridge import handler as bridge_handler
from lambdas.glue_bridge.sweep import RunReconciler, SweepReport
from lineage_plane.functions import BridgeMetrics

logger = Logger()
metrics = Metrics(namespace=BridgeMetrics.NAMESPACE)


@functools.cache
def reconciler(account: str) -> RunReconciler:
    config = bridge_handler.settings()
    bridge = bridge_handler.bridge(account)
    return RunReconciler(
        bridge=bridge,
        validator=bridge.validator,
        run_state=bridge.run_state,
        silent=config.silent,
        max_run=config.max_run,
    )


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    report = reconciler(event.account).sweep()
    record(report)
    return report.summary()


def record(report: SweepReport) -> None:
    metrics.add_metric(name=BridgeMetrics.RUNS_SWEPT, unit=MetricUnit.Count, value=report.swept)
    metrics.add_metric(name=BridgeMetrics.RUNS_NOT_FOUND, unit=MetricUnit.Count, value=report.not_found)
    for observation in report.closed:
        if observation.new:
            metric = bridge_handler.VERDICT_METRICS.get(observation.verdict or "")
            if metric is not None:
                metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if report.expired:  # closed by this sweep: never ended, by lineage or by a platform
        metrics.add_metric(name=BridgeMetrics.INCOMPLETE_RUNS, unit=MetricUnit.Count, value=report.expired)
    logger.info("active runs swept", extra=report.summary())
