"""Why a lineage candidate is refused: its quarantine ``reason`` ({code, detail, path?, rule?}).

In order: a line that does not parse; a producer's own refusal (lineage_lib in lenient mode wrote
a ``producer_refusal`` line instead of an event it could not emit: lineage_lib.contract.Refusal); no
schema version, or one this validator does not know; over the contract's size; a schema violation;
valid, but holding what DynamoDB cannot store in the run state (lineage_plane.state_limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lineage_lib import contract
from lineage_lib._schema_compiler import SchemaViolation
from lineage_lib.contract import Field, Refusal
from lineage_plane.extract import Found
from lineage_plane.layout import Quarantine, QuarantineCode
from lineage_plane.state_limits import StateRefusal

# jsonschema's best_match costs ~0.8 ms per refused event: a batch of nothing but schema violations
# would outlast the function's timeout. The first ones of a batch get its precise reason; the rest
# get the compiled validator's own (also exact about path and rule, terser in wording).
MAX_EXPLAINED_PER_BATCH: Final = 50
# A producer's refusal is copied into the reason, cut to these lengths (the whole line is in message).
MAX_PRODUCER_DETAIL: Final = 1024
MAX_PRODUCER_FIELD: Final = 256


class Refusals:
    """Why a lineage candidate is refused, or None when it is valid.

    One per batch (or per `lineage validate` run): it counts how many schema violations may still get
    jsonschema's wording; the rest get the compiled validator's own path and rule.
    """

    def __init__(self, explained_precisely: int = MAX_EXPLAINED_PER_BATCH) -> None:
        self.explanations_left = explained_precisely

    @property
    def tersely_explained(self) -> int:
        """How many schema violations were worded by the compiled validator (the budget was spent)."""
        return max(0, -self.explanations_left)

    def __call__(self, found: Found) -> dict[str, str] | None:
        event = found.event
        if event is None:
            return reason(QuarantineCode.INVALID_JSON, f"not valid JSON (truncated?): {found.parse_error}")
        if Refusal.KEY in event:  # before the schema, which allows no such field
            return producer_reason(event[Refusal.KEY])
        version = event.get(Field.SCHEMA_VERSION)
        if not isinstance(version, str) or version not in contract.known_versions():
            return version_reason(version)
        if len(found.text) * 4 > contract.MAX_EVENT_BYTES:  # 4 bytes per character at most
            size = len(found.text.encode("utf-8", errors="backslashreplace"))  # as the archive writes it
            if size > contract.MAX_EVENT_BYTES:
                return reason(
                    QuarantineCode.OVERSIZE,
                    f"the event is {size} bytes, over the contract's {contract.MAX_EVENT_BYTES}-byte limit",
                )
        try:
            contract.compiled_validator(version)(event)  # compiled once per process and version
        except SchemaViolation as violation:
            self.explanations_left -= 1
            return schema_reason(event, violation, explain=self.explanations_left >= 0)
        return None


def version_reason(version: Any) -> dict[str, str]:
    if version is None:
        return reason(QuarantineCode.MISSING_SCHEMA_VERSION, "the event declares no schema_version")
    known = ", ".join(contract.known_versions())
    return reason(
        QuarantineCode.UNKNOWN_SCHEMA_VERSION,
        f"schema_version {version!r} is not one this validator knows ({known}); deploy the "
        "plane's newer version, then replay the quarantine",
    )


def producer_reason(refusal: Any) -> dict[str, str]:
    """The reason of a producer's refusal line: its code as the rule, its path and its detail.

    Anyone can write such a line; it is only ever quarantined, so its content needs no trust, only
    bounds."""
    if not isinstance(refusal, Mapping):
        refusal = {Refusal.DETAIL: f"producer_refusal is not an object: {refusal!r}"}
    code, path, detail = (refusal.get(name) for name in (Refusal.CODE, Refusal.PATH, Refusal.DETAIL))
    return reason(
        QuarantineCode.PRODUCER_REFUSED,
        _text(detail, MAX_PRODUCER_DETAIL) or "the producer refused the event without a detail",
        _text(path, MAX_PRODUCER_FIELD),
        _text(code, MAX_PRODUCER_FIELD),
    )


def state_reason(refusal: StateRefusal) -> dict[str, str]:
    return reason(
        QuarantineCode.RUN_STATE_REFUSED, f"{refusal.path} {refusal.detail}", refusal.path, refusal.rule
    )


def schema_reason(event: Mapping[str, Any], violation: SchemaViolation, *, explain: bool) -> dict[str, str]:
    # The reference validator names the most relevant error precisely; the compiled one's report is
    # the fallback when jsonschema is not installed or the batch's budget is spent.
    explained = None
    if explain:
        try:
            explained = contract.explain(event)
        except ImportError:
            explained = None
    if explained is not None:
        return reason(QuarantineCode.SCHEMA_VIOLATION, explained.reason, explained.path, explained.rule)
    path = ".".join(str(part) for part in violation.path)
    return reason(QuarantineCode.SCHEMA_VIOLATION, violation.message, path, violation.rule)


def reason(code: str, detail: str, path: str = "", rule: str = "") -> dict[str, str]:
    found = {Quarantine.CODE: code, Quarantine.DETAIL: detail}
    if path:
        found[Quarantine.PATH] = path
    if rule:
        found[Quarantine.RULE] = rule
    return found


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
