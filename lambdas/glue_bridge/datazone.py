"""Glue's own OpenLineage events, read back from Amazon DataZone, as READ and WRITE events of the contract.

Glue 5 Spark jobs with lineage turned on post OpenLineage RunEvents to a DataZone domain. When a run
ends, the bridge lists the run's events (ListLineageEvents over its time window), reads each
(GetLineageEvent) and has lineage_plane.openlineage turn inputs, outputs, schemas and column
lineage into events tagged ``observed_by: datazone``: what the engine saw, beside what the job's
lineage_lib said. This module holds the AWS side: the calls, their paging, payloads and errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError

from lambdas.common.errors import PlaneError
from lineage_plane.functions import FunctionEnv
from lineage_plane.observation import RunKey, timestamp
from lineage_plane.openlineage import DataZoneReading, as_utc, dig, is_glue_job, translate

logger = logging.getLogger(__name__)


LOOKAROUND: Final = timedelta(minutes=5)  # Spark's driver dates the events; Glue's times bracket the run

_DENIED: Final = frozenset({"AccessDeniedException", "UnauthorizedException"})
_NOT_FOUND: Final = "ResourceNotFoundException"


class DataZoneAccessError(PlaneError):
    """DataZone refused to list or read the domain's lineage events."""

    def __init__(self, domain_id: str, operation: str, code: str) -> None:
        self.domain_id, self.operation, self.code = domain_id, operation, code
        todo = (
            f"check {FunctionEnv.DATAZONE_DOMAIN_ID} (the id, dzd_..., of a domain in this account and "
            "region), or unset it to stop reading lineage from DataZone"
            if code == _NOT_FOUND
            else "grant the function's role datazone:ListLineageEvents and datazone:GetLineageEvent on "
            f"the domain, and check that {FunctionEnv.DATAZONE_DOMAIN_ID} names the domain Glue posts to"
        )
        super().__init__(f"DataZone refused {operation} on domain {domain_id!r} ({code}): {todo}")


class DataZoneLineage:
    """Reads Glue runs' OpenLineage events from one DataZone domain; ``client`` is boto3's "datazone"
    (throttling is left to its retries). ``account``: the one the bridge runs in, whose Glue tables
    are ``glue://default/...``."""

    def __init__(self, client: Any, domain_id: str, *, account: str | None = None) -> None:
        self._client, self._domain_id, self._account = client, domain_id, account

    def events_for(self, **run: Any) -> list[dict[str, Any]]:
        """``read``'s events (the bridge's PlatformLineage); what was left out is logged."""
        reading = self.read(**run)
        if reading.unmapped or reading.trimmed or reading.rejected:
            left_out = {"unmapped": sorted(reading.unmapped), "trimmed": reading.trimmed}
            logger.warning("DataZone lineage of %s carried in part", run.get("job_run_id"), extra=left_out)
            for reason in reading.rejected:
                logger.warning("DataZone lineage left out: %s", reason)
        return reading.events

    def read(
        self,
        *,
        key: RunKey,
        job_name: str,
        job_run_id: str,
        started: datetime,
        ended: datetime,
        region: str | None,
    ) -> DataZoneReading:
        """Glue run ``job_run_id``'s OpenLineage events in the domain, as contract events."""
        after, before = as_utc(started) - LOOKAROUND, as_utc(ended) + LOOKAROUND
        query = {"timestampAfter": after, "timestampBefore": before, "sortOrder": "ASCENDING"}
        events: list[dict[str, Any]] = []
        unreadable: list[str] = []
        while True:
            page = self._call(self._client.list_lineage_events, **query)
            for item in page.get("items", []):
                summary = dig(item, "eventSummary", "openLineageRunEventSummary")
                when = item.get("eventTime")
                if (
                    item.get("processingStatus") != "FAILED"  # DataZone refused it
                    and is_glue_job(str(dig(summary, "job", "name")), job_name)
                    and (dig(summary, "inputs") or dig(summary, "outputs"))
                    and (not isinstance(when, datetime) or after <= when <= before)
                ):
                    payload = self._event(item["id"])
                    if isinstance(payload, dict):
                        events.append(payload)
                    else:
                        unreadable.append(payload)
            if not page.get("nextToken"):
                break
            query["nextToken"] = page["nextToken"]
        reading = translate(
            events,
            key=key,
            domain_id=self._domain_id,
            job_name=job_name,
            job_run_id=job_run_id,
            region=region,
            account=self._account,
        )
        reading.rejected += unreadable
        return reading

    def _event(self, event_id: str) -> dict[str, Any] | str:
        """The OpenLineage event, or why it cannot be read."""
        response = self._call(self._client.get_lineage_event, identifier=event_id)
        body = response.get("event", b"")  # a payload blob: boto3 returns a streaming body
        try:
            event = json.loads(body.read() if hasattr(body, "read") else body)
        except ValueError as err:  # UnicodeDecodeError included
            return f"lineage event {event_id} is not JSON: {err}"
        if not isinstance(event, dict):
            return f"lineage event {event_id} is not a JSON object"
        if "eventTime" not in event and isinstance(response.get("eventTime"), datetime):
            event["eventTime"] = timestamp(response["eventTime"])
        return event

    def _call(self, method: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
        try:
            return method(domainIdentifier=self._domain_id, **params)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in _DENIED or code == _NOT_FOUND:
                operation = "".join(word.title() for word in method.__name__.split("_"))
                raise DataZoneAccessError(self._domain_id, operation, code) from err
            raise
