"""Payloads that are not a CloudWatch Logs subscription's (issue 11, P4), through the handler against moto:
not base64, not gzip, not JSON, a field missing. Each is named an unreadable delivery (a typed error's
problem in an error log line, the UnreadableDeliveries metric), kept whole in the quarantine, and
acknowledged: it will never become readable, so a retry could only repeat the failure."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from typing import Any

import pytest

from lineage_plane.functions import ValidatorMetrics
from lineage_plane.layout import Archive, Quarantine, QuarantineCode, partitions_of
from tests.functional.validator_support import MIXED, Plane, emf_metrics, load_data

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def packed(data: Any) -> dict[str, Any]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def without(name: str) -> dict[str, Any]:
    data = load_data(MIXED)
    del data[name]
    return data


def with_bad_log_event() -> dict[str, Any]:
    data = load_data(MIXED)
    data["logEvents"][2]["message"] = {"not": "text"}
    return data


PAYLOADS: dict[str, tuple[Any, str]] = {
    "not base64": ({"awslogs": {"data": "%%% not base64 %%%"}}, "base64"),
    "not gzip": ({"awslogs": {"data": base64.b64encode(b"plain bytes").decode()}}, "gzip"),
    "not JSON": (packed(b"\x00\x01 not json"), "JSON"),
    "JSON, not an object": (packed([1, 2, 3]), "messageType"),
    "no awslogs": ({"Records": [{"body": "an SQS message"}]}, "awslogs"),
    "no owner": (packed(without("owner")), "owner"),
    "no logEvents": (packed(without("logEvents")), "logEvents"),
    "a message that is not text": (packed(with_bad_log_event()), "log event"),
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_an_unreadable_payload_is_quarantined_named_counted_and_acknowledged(
    plane: Plane, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    payload, named = PAYLOADS[name]
    capsys.readouterr()

    with caplog.at_level(logging.ERROR):
        result = plane.invoke(payload)  # does not raise: a retry could not read it either

    assert result == {"received": 0, "unreadable_deliveries": 1}
    [metrics] = emf_metrics(capsys.readouterr().out)
    assert metrics[ValidatorMetrics.UNREADABLE_DELIVERIES] == [1.0]
    [log] = [r for r in caplog.records if r.getMessage() == "unreadable delivery quarantined"]
    assert (log.levelname, log.__dict__["error"]) == ("ERROR", "UnreadableDeliveryError")
    assert named in log.__dict__["problem"]
    [(key, [line])] = plane.archive().items()
    assert key == log.__dict__["object"]
    assert key.startswith(Archive.QUARANTINE_PREFIX)
    assert Archive.LOG_DATE in partitions_of(key)
    assert line[Quarantine.REASON][Quarantine.CODE] == QuarantineCode.UNREADABLE_DELIVERY
    assert line[Quarantine.REASON][Quarantine.DETAIL] == log.__dict__["problem"]
    assert json.loads(line[Quarantine.MESSAGE]) == payload  # kept whole
    assert plane.scan() == []


def test_the_same_unreadable_payload_twice_is_kept_once(plane: Plane) -> None:
    payload, _ = PAYLOADS["not gzip"]
    plane.invoke(payload)
    plane.invoke(payload)
    assert len(plane.archive_text()) == 1
