"""Which events go in one run-state transaction, and what they make of the items they touch. Pure.

A transaction holds at most 100 writes (one marker per event, one put per item touched), and at most
MAX_ITEMS_PER_TRANSACTION item puts, so that it stays under DynamoDB's 4 MB.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from lambdas.common.state_items import Stored
from lineage_lib.contract import Field
from lineage_plane.layout import sortable_time
from lineage_plane.run_state import ItemKey, apply_event, keys_of, new_progress

MAX_TRANSACTION_ITEMS: Final = 100

# Item puts per transaction: run_state caps what grows in an item (at worst about 200 KB of dataset
# ids, error and context), so that 16 of them stay under a transaction's 4 MB.
MAX_ITEMS_PER_TRANSACTION: Final = 16


def order(event: Mapping[str, Any]) -> tuple[str, str, str]:
    # By step first, so that a transaction touches as few step items as possible.
    return event.get(Field.STEP) or "", sortable_time(event[Field.EVENT_TIME]), event[Field.EVENT_ID]


def keys(event: Mapping[str, Any]) -> tuple[ItemKey, ...]:
    attempt_key, step_key = keys_of(event)
    return (attempt_key,) if step_key is None else (attempt_key, step_key)


def chunks(events: Sequence[Mapping[str, Any]]) -> Iterable[list[Mapping[str, Any]]]:
    """Runs of events whose markers and touched items fit one transaction."""
    chunk: list[Mapping[str, Any]] = []
    steps: set[str] = set()
    for event in events:
        step = event.get(Field.STEP)
        grows = 1 + (1 if step is not None and step not in steps else 0)
        new_step = grows - 1
        too_many = len(chunk) + 1 + len(steps) + grows > MAX_TRANSACTION_ITEMS
        if chunk and (too_many or 1 + len(steps) + new_step > MAX_ITEMS_PER_TRANSACTION):
            yield chunk
            chunk, steps = [], set()
        chunk.append(event)
        if step is not None:
            steps.add(step)
    if chunk:
        yield chunk


def fold_into(events: Sequence[Mapping[str, Any]], stored: Mapping[ItemKey, Stored]) -> dict[ItemKey, Stored]:
    """Copies of the touched items with the events applied; ``stored`` is left as it was."""
    updated: dict[ItemKey, Stored] = {}
    for event in events:
        for index, key in enumerate(keys(event)):
            item = updated.get(key)
            if item is None:
                known = stored.get(key)
                item = (
                    copy.deepcopy(known)
                    if known is not None
                    else Stored(new_progress(event, of_step=index == 1))
                )
                updated[key] = item
            apply_event(item.progress, event)
    return updated
