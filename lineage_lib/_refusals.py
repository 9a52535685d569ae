"""What the emitter does with an event it cannot write as it is (the rare path, kept off the hot one).

* A value JSON cannot carry (a ``datetime``, a ``set``, an object, a non-string key) or a number it
  has no form for (``NaN``, ``Infinity``): ``problems_in`` finds each one with its dotted path.
  Strict mode raises LineageValidationError naming the first; lenient mode emits a refusal line
  (``contract.Refusal``): the event with each such value replaced by its ``repr``, and a
  ``producer_refusal`` object saying what to fix. No validator archives it; the plane quarantines it.
* A line over the size limit: lenient mode emits a reduced event instead (``reduced``): the same
  identity and lineage edge without its optional details (column lineage, dataset schemas, the error's
  stack, tags), and the tag ``lineage_lib.omitted`` saying what was dropped and how large the event
  was. If even that is too large, a refusal line with code ``oversize`` that names the datasets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from lineage_lib.contract import MAX_EVENT_BYTES, Field, Refusal

# A tag of the reduced event (the schema's tag names: [A-Za-z0-9_.:/-]{1,128}).
OMITTED_TAG: Final = "lineage_lib.omitted"
_MAX_TAGS: Final = 50  # the schema's maxProperties of tags
_MAX_REPR: Final = 1024
_MAX_DETAIL: Final = 1000  # the plane copies at most 1024 characters of it into the quarantine reason
_MAX_SHOWN: Final = 200  # of a value's repr, in a detail
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Identity of an event: what a refusal line keeps when nothing else fits.
_IDENTITY: Final = (
    Field.SCHEMA_VERSION,
    Field.EVENT_ID,
    Field.EVENT_TIME,
    Field.EVENT_TYPE,
    Field.PRODUCER,
    Field.PIPELINE_ID,
    Field.RUN_ID,
    Field.ATTEMPT,
    Field.STEP,
)


class Problem(NamedTuple):
    path: str  # dotted location ("tags.when"); a key's problem is at its mapping's path
    code: str  # Refusal.NOT_JSON or Refusal.NON_FINITE
    value: Any
    in_key: bool = False


def has_lone_surrogate(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is not None


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _join(path: str, part: object) -> str:
    return f"{path}.{part}" if path else str(part)


def problems_in(value: Any, path: str = "") -> list[Problem]:
    """Every value under ``value`` that ``json.dumps(allow_nan=False)`` refuses, depth first."""
    found: list[Problem] = []
    _walk(value, path, found, set())
    return found


def _walk(value: Any, path: str, found: list[Problem], seen: set[int]) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            found.append(Problem(path, Refusal.NON_FINITE, value))
        return
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:  # a container that holds itself
            found.append(Problem(path, Refusal.NOT_JSON, value))
            return
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if _clean_key(key) is not key:
                    found.append(Problem(path, Refusal.NOT_JSON, key, in_key=True))
                _walk(item, _join(path, key), found, seen)
        else:
            for index, item in enumerate(value):
                _walk(item, _join(path, index), found, seen)
        seen.discard(id(value))
        return
    found.append(Problem(path, Refusal.NOT_JSON, value))


def sanitised(value: Any) -> Any:
    """A copy of ``value`` in which every value JSON refuses is replaced by its ``repr``."""
    return _clean(value, set())


def _clean(value: Any, seen: set[int]) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (dict, list, tuple)) and id(value) not in seen:
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                return {_clean_key(k): _clean(v, seen) for k, v in value.items()}
            return [_clean(item, seen) for item in value]
        finally:
            seen.discard(id(value))
    return _short_repr(value)


def _clean_key(key: Any) -> Any:
    if key is None or isinstance(key, (str, int, bool)):
        return key
    if isinstance(key, float) and math.isfinite(key):
        return key
    return _short_repr(key)


def explain(problem: Problem) -> str:
    """What is wrong with one value, and what to pass instead."""
    where = problem.path or "the event"
    kind = type(problem.value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    shown = _cut(_short_repr(problem.value), _MAX_SHOWN)
    if problem.in_key:
        return f"{where} has a key {shown} ({name}), not a string: use string keys"
    if problem.code == Refusal.NON_FINITE:
        return (
            f"{where} is {problem.value!r}, not a finite number (JSON has no NaN or Infinity): pass a "
            "whole number, or leave the field out"
        )
    return (
        f"{where} holds a {name} ({shown}), which JSON cannot carry: pass a string "
        "(for a date or time, its isoformat()) or a number"
    )


def refusal(event_type: str, problems: list[Problem]) -> dict[str, str]:
    """The ``producer_refusal`` object for values JSON refuses (the first one's code and path)."""
    first = problems[0]
    more = f" ({len(problems) - 1} more such values in this line)" if len(problems) > 1 else ""
    detail = (
        f"lineage_lib (lenient mode) could not emit this {event_type or 'lineage'} event as JSON: "
        f"{explain(first)}{more}. Each such value is replaced here by its repr; fix the call that "
        "recorded it."
    )
    return {Refusal.CODE: first.code, Refusal.PATH: first.path, Refusal.DETAIL: _cut(detail, _MAX_DETAIL)}


def datasets_of(event: Mapping[str, Any]) -> list[str]:
    """The ids of the datasets an event names (source, then target)."""
    ids = []
    for side in (Field.SOURCE, Field.TARGET):
        dataset = event.get(side)
        if isinstance(dataset, Mapping) and dataset.get(Field.DATASET_ID) is not None:
            ids.append(str(dataset[Field.DATASET_ID]))
    return ids


def reduced(event: Mapping[str, Any], size: int, dumps: Callable[[Any], str]) -> str | None:
    """The event without its optional details, dropped one by one until its line fits, tagged with
    ``lineage_lib.omitted``; None when even the last of them is too large."""
    out = dict(event)
    omitted: list[str] = []
    for name in (Field.COLUMNS, f"{Field.SOURCE}.{Field.SCHEMA}", f"{Field.TARGET}.{Field.SCHEMA}",
                 f"{Field.ERROR}.{Field.STACK}", Field.TAGS):  # fmt: skip
        if not _drop(out, name):
            continue
        omitted.append(name)
        line = dumps(_tagged(out, omitted, size))
        if _fits(line):
            return line
    return None


def _drop(event: dict[str, Any], dotted: str) -> bool:
    outer, _, inner = dotted.partition(".")
    if not inner:
        return event.pop(outer, None) is not None
    holder = event.get(outer)
    if not isinstance(holder, Mapping) or inner not in holder:
        return False
    event[outer] = {k: v for k, v in holder.items() if k != inner}
    return True


def _tagged(event: dict[str, Any], omitted: list[str], size: int) -> dict[str, Any]:
    note = (
        f"{', '.join(omitted)}: the event was {size} bytes, over the {MAX_EVENT_BYTES}-byte limit; "
        "record fewer column mappings or schema fields per event"
    )
    tags = event.get(Field.TAGS)
    tags = dict(tags) if isinstance(tags, Mapping) and Field.TAGS not in omitted else {}
    if len(tags) >= _MAX_TAGS and OMITTED_TAG not in tags:
        tags.clear()
        note = f"{Field.TAGS}, {note}"
    tags[OMITTED_TAG] = note
    return {**event, Field.TAGS: tags}


def _fits(line: str) -> bool:
    return len(line) * 4 <= MAX_EVENT_BYTES or len(line.encode("utf-8", "surrogatepass")) <= MAX_EVENT_BYTES


def minimal_refusal(event: Mapping[str, Any], code: str, detail: str) -> dict[str, Any]:
    """The event's identity and dataset ids (strings cut to a short length) and a refusal: small
    whatever the event held."""
    out: dict[str, Any] = {}
    for name in _IDENTITY:
        if name in event:
            out[name] = _cut(sanitised(event[name]))
    for side in (Field.SOURCE, Field.TARGET):
        dataset = event.get(side)
        if isinstance(dataset, Mapping) and Field.DATASET_ID in dataset:
            out[side] = {Field.DATASET_ID: _cut(sanitised(dataset[Field.DATASET_ID]))}
    out[Refusal.KEY] = {Refusal.CODE: code, Refusal.PATH: "", Refusal.DETAIL: _cut(detail, _MAX_DETAIL)}
    return out


def oversize_detail(event: Mapping[str, Any], size: int) -> str:
    datasets = ", ".join(datasets_of(event)) or "no dataset"
    kind = event.get(Field.EVENT_TYPE) or "lineage"
    return (
        f"lineage_lib (lenient mode) could not emit this {kind} event of {datasets}: it was {size} bytes, "
        f"over the {MAX_EVENT_BYTES}-byte limit even without its column lineage, dataset schemas, error "
        "stack and tags, so that lineage is missing. Record less per event (one write per table or "
        "column group) and keep names and ids short."
    )


def _cut(value: Any, limit: int = _MAX_REPR) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 3] + "..."
    if isinstance(value, dict):
        return {k: _cut(v, limit) for k, v in value.items()}
    return value
