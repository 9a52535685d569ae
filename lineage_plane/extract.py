"""Finding the lineage events in a CloudWatch log message.

A lineage event arrives in one of these shapes:

* a bare JSON line: Glue and EMR job output, ``print`` in a Lambda function, lineage_lib's sinks;
* after a log prefix: Lambda's text format (``[INFO]\\t<time>\\t<request id>\\t{...}``) or a log4j
  pattern of a Spark driver (``26/11/21 05:00:01 INFO Lineage: {...}``);
* inside a Lambda JSON-format log record, as the ``message`` string or object.

One log message can hold several events: a job that prints two events in one write makes one log
event of two newline-separated lines, each bare or after its own prefix. Every one is found, in the
order written; its position in that order (``event_index``) tells two events of one message apart.

A JSON object is lineage when it carries ``schema_version``, or ``event_type`` together with
``run_id`` or ``event_id`` (an event that forgot its version is still lineage, to be quarantined).
A line that is not lineage is ignored. A line that contains a lineage field name but does not parse
(a truncated event, typically) is a broken event: quarantined, never ignored.
"""

from __future__ import annotations

import json
import re
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
# Where a JSON object may start: a '{"', or a '{' that begins a line (``{ "a": 1}``, pretty-printed).
_CANDIDATE: Final = re.compile(r'(\{)"|^[ \t\r]*(\{)', re.MULTILINE)


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


def find_events(message: str) -> list[Found]:
    """Every lineage event in one log message, in order (empty when the message is not lineage)."""
    return _find_all(message.strip(), unwrap=True)


def find_event(message: str) -> Found | None:
    """The first lineage event in one log message, or None when the message is not lineage."""
    found = find_events(message)
    return found[0] if found else None


def _find_all(text: str, *, unwrap: bool) -> list[Found]:
    found: list[Found] = []
    position = 0
    first = -1  # where the first candidate starts
    while (match := _CANDIDATE.search(text, position)) is not None:
        start = match.start(1) if match.group(1) else match.start(2)
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        try:
            if first < 0:  # the first object may span lines (a pretty-printed event)
                first = start
                parsed, end = _decode(text, start)
            else:  # the others are read within their line: each character is decoded once at most
                parsed, end = _decode(text[start:line_end] if start or line_end < len(text) else text)
                end += start
        except (ValueError, RecursionError) as err:  # RecursionError: nested deeper than the parser goes
            # A broken candidate is the rest of its line: the next line may hold the next event (a
            # truncated event followed by a whole one, in one write).
            position = line_end
            candidate = text[start:line_end].rstrip()
            if any(marker in candidate for marker in _MARKERS):
                found.append(Found(candidate, None, str(err)))
            continue
        position = end
        if not isinstance(parsed, dict):  # pragma: no cover - a candidate starts with '{'
            continue
        if is_lineage(parsed):
            found.append(Found(text[start:end] if start or end < len(text) else text, parsed))
        elif unwrap and start == 0:  # a Lambda JSON-format record around the message
            inner = parsed.get(LAMBDA_RECORD_MESSAGE)
            if isinstance(inner, str):
                found += _find_all(inner.strip(), unwrap=False)
            elif isinstance(inner, dict) and is_lineage(inner):
                found.append(Found(_compact(inner), inner))
    if not found and first >= 0:
        # What no line of the message yields may still be one broken event spread over lines (a
        # pretty-printed event cut short): kept whole, as long as it names a lineage field.
        rest = text[first:]
        if any(marker in rest for marker in _MARKERS):
            try:
                _decode(rest)
            except (ValueError, RecursionError) as err:
                return [Found(rest, None, str(err))]
    return found
