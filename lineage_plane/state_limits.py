"""What DynamoDB refuses in a run-state item, checked for each valid event before anything is written.

The contract bounds what the run state must hold (integers within int64, strings without lone
surrogates: schemas/README.md), but some limits are not the contract's to state: DynamoDB measures
keys in UTF-8 bytes, JSON Schema lengths in characters. An event whose items DynamoDB would refuse is
quarantined (lineage_plane.layout.QuarantineCode.RUN_STATE_REFUSED) before the batch is archived, rather
than failing the batch's run-state write on every retry. Pure: the check builds the keys the store
would write (lineage_plane.run_state) and looks at every value of the event's state view.

DynamoDB's limits (developer guide, "Service, account, and table quotas"): a partition key of at
most 2048 bytes, a sort key of at most 1024 bytes (an index's keys too), numbers of at most 38
significant digits (boto3's serializer refuses a longer integer outright), strings in UTF-8. Item
size (400 KB) is bounded by the fold's caps (lineage_plane.run_state), not per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from lineage_lib.contract import Field
from lineage_plane.run_state import index_sort_key, keys_of

MAX_PARTITION_KEY_BYTES: Final = 2048
MAX_SORT_KEY_BYTES: Final = 1024
# boto3's TypeSerializer creates numbers in a 38-digit context that traps rounding
MAX_NUMBER_DIGITS: Final = 38
_NUMBER_LIMIT: Final = 10**MAX_NUMBER_DIGITS
# What escaped ids may take of a key and still fit: an attempt's index sort key is a 27-character time,
# '#', the partition key ('RUN#' pipeline '#' run), '#' and 'ATTEMPT#00000' (46 characters besides the
# ids); a step's sort key is 'ATTEMPT#00000#STEP#' (19) and the step.
_SHORT_IDS: Final = MAX_SORT_KEY_BYTES - 46
_SHORT_STEP: Final = MAX_SORT_KEY_BYTES - 19


class StateRule:
    """The ``rule`` of a run-state refusal's reason: which of DynamoDB's limits the event breaks."""

    UNICODE: Final = "utf8"
    NUMBER: Final = "number"
    KEY_SIZE: Final = "key_size"


@dataclass(frozen=True)
class StateRefusal:
    rule: str
    path: str
    detail: str


def state_refusal(view: Mapping[str, Any]) -> StateRefusal | None:
    """Why DynamoDB would refuse the run-state items of a valid event's state view, or None."""
    refusal = _values_refusal(view, "")
    if refusal is not None:
        return refusal
    return _keys_refusal(view)


def _values_refusal(value: Any, path: str) -> StateRefusal | None:
    # Exact types: a state view holds what json.loads makes (dict, list, str, int, float, bool, None).
    # Run on every valid event: ASCII text (str.isascii is O(1)) and small integers are passed over
    # inline, so that only containers and suspects cost a call.
    if type(value) is dict:
        items: Any = value.items()
    elif type(value) is list:
        items = enumerate(value)
    else:
        return _scalar_refusal(value, path)
    for name, inner in items:
        kind = type(inner)
        if type(name) is str and not name.isascii():
            refusal = _text_refusal(name, f"{path}.{name}" if path else name)
            if refusal is not None:
                return refusal
        if (kind is str and inner.isascii()) or (kind is int and -_NUMBER_LIMIT < inner < _NUMBER_LIMIT):
            continue
        refusal = _values_refusal(inner, f"{path}.{name}" if path else str(name))
        if refusal is not None:
            return refusal
    return None


def _scalar_refusal(value: Any, path: str) -> StateRefusal | None:
    kind = type(value)
    if kind is str:
        return _text_refusal(value, path)
    if kind is int and not -_NUMBER_LIMIT < value < _NUMBER_LIMIT:
        return StateRefusal(
            StateRule.NUMBER,
            path,
            f"is an integer of more than {MAX_NUMBER_DIGITS} digits: DynamoDB holds {MAX_NUMBER_DIGITS}",
        )
    if kind is float:  # the state reads integers only; DynamoDB has no binary floats
        return StateRefusal(StateRule.NUMBER, path, f"{value!r} is not an integer")
    return None


def _text_refusal(value: str, path: str) -> StateRefusal | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return StateRefusal(
            StateRule.UNICODE,
            path,
            f"holds a lone surrogate ({value[err.start]!a} at character {err.start}), which is not "
            "Unicode text: DynamoDB stores strings as UTF-8",
        )
    return None


def _keys_refusal(view: Mapping[str, Any]) -> StateRefusal | None:
    pipeline_id, run_id, step = view[Field.PIPELINE_ID], view[Field.RUN_ID], view.get(Field.STEP)
    # ASCII ids this short cannot reach a limit even if every character were escaped ('#', '%': 3 bytes)
    if (
        pipeline_id.isascii()
        and run_id.isascii()
        and 3 * (len(pipeline_id) + len(run_id)) <= _SHORT_IDS
        and (step is None or (step.isascii() and 3 * len(step) <= _SHORT_STEP))
    ):
        return None
    attempt_key, step_key = keys_of(view)
    pk_bytes = len(attempt_key.pk.encode("utf-8"))
    if pk_bytes > MAX_PARTITION_KEY_BYTES:
        return _key_size(Field.RUN_ID, "the run's partition key", pk_bytes, MAX_PARTITION_KEY_BYTES)
    # the attempt's sort key in the pipeline-runs and active-runs indexes holds the partition key
    index_bytes = len(index_sort_key(view[Field.EVENT_TIME], attempt_key).encode("utf-8"))
    if index_bytes > MAX_SORT_KEY_BYTES:
        return _key_size(Field.RUN_ID, "the attempt's index sort key", index_bytes, MAX_SORT_KEY_BYTES)
    if step_key is not None:
        sk_bytes = len(step_key.sk.encode("utf-8"))
        if sk_bytes > MAX_SORT_KEY_BYTES:
            return _key_size(Field.STEP, "the step's sort key", sk_bytes, MAX_SORT_KEY_BYTES)
    return None


def _key_size(path: str, key: str, size: int, limit: int) -> StateRefusal:
    names = "step" if path == Field.STEP else "pipeline_id and run_id"
    return StateRefusal(
        StateRule.KEY_SIZE,
        path,
        f"{names} make {key} {size} bytes long in UTF-8 ('#' and '%' count three), over DynamoDB's "
        f"{limit}-byte limit: use shorter ids",
    )
