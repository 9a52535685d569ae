"""Finding the lineage event in a CloudWatch log message.

A lineage event arrives in one of these shapes:

* a bare JSON line: Glue and EMR job output, ``print`` in a Lambda function, lineage_lib's sinks;
* after a log prefix: Lambda's text format (``[INFO]\\t<time>\\t<request id>\\t{...}``) or a log4j
  pattern of a Spark driver (``26/11/21 05:00:01 INFO Lineage: {...}``);
* inside a Lambda JSON-format log record, as the ``message`` string or object.

A JSON object is lineage when it carries ``schema_version``, or ``event_type`` together with
``run_id`` or ``event_id`` (an event that forgot its version is still lineage, to be quarantined).
A line that is not lineage is ignored. A line that contains a lineage field name but does not parse
(a truncated event, typically) is a broken event: quarantined, never ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from lineage_lib.contract import Field

# Lambda's JSON log format puts the logged text (or object) under this key.
LAMBDA_RECORD_MESSAGE: Final = "message"
# A field name as it appears in a lineage line, or escaped inside a Lambda JSON record's message.
_MARKERS: Final = tuple(
    marker for name in (Field.SCHEMA_VERSION, Field.EVENT_TYPE) for marker in (f'"{name}"', f'\\"{name}\\"')
)
_decode = json.JSONDecoder().raw_decode
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class Found:
    """A lineage candidate: its JSON text, and the parsed event (None when the text does not parse)."""

    text: str
    event: dict[str, Any] | None
    parse_error: str = ""


def is_lineage(obj: dict[str, Any]) -> bool:
    if Field.SCHEMA_VERSION in obj:
        return True
    return Field.EVENT_TYPE in obj and (Field.RUN_ID in obj or Field.EVENT_ID in obj)


def find_event(message: str) -> Found | None:
    """The lineage event in one log message, or None when the message is not lineage."""
    return _find(message.strip(), unwrap=True)


def _find(text: str, *, unwrap: bool) -> Found | None:  # noqa: PLR0911 - one return per shape
    start = 0 if text.startswith("{") else text.find('{"')
    if start < 0:
        return None
    candidate = text[start:] if start else text
    try:
        parsed, end = _decode(candidate)
    except (ValueError, RecursionError) as err:  # RecursionError: nested deeper than the parser goes
        if any(marker in candidate for marker in _MARKERS):
            return Found(candidate, None, str(err))
        return None
    if not isinstance(parsed, dict):
        return None
    if is_lineage(parsed):
        return Found(candidate[:end] if end < len(candidate) else candidate, parsed)
    if unwrap and start == 0:  # a Lambda JSON-format record around the message
        inner = parsed.get(LAMBDA_RECORD_MESSAGE)
        if isinstance(inner, str):
            return _find(inner.strip(), unwrap=False)
        if isinstance(inner, dict) and is_lineage(inner):
            return Found(_compact(inner), inner)
    return None
