"""Event ids and times are made by lineage_lib itself: they must always satisfy the schema, because
the emitter trusts them after a run's first event (contract.GENERATED_FIELDS)."""

from __future__ import annotations

import re
import time
import uuid
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineage_lib import _ids, contract
from lineage_lib.emitter import Emitter, SharedFields
from lineage_lib.sinks import MemorySink
from tests.conftest import load_examples

DEFS = contract.schema()["$defs"]


def test_event_ids_are_random_rfc_4122_version_4_uuids_in_canonical_form() -> None:
    pattern = re.compile(DEFS["uuid"]["pattern"])
    ids = [_ids.new_event_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert pattern.search(value)
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, value)


@given(st.floats(min_value=0, max_value=4_102_444_799.999, allow_nan=False))  # up to 2099-12-31
def test_event_times_match_the_schema_at_any_instant(instant: float) -> None:
    pattern = re.compile(DEFS["utc_timestamp"]["pattern"])
    with mock.patch.object(_ids.time, "time", return_value=instant):
        value = _ids.utc_now()
    assert pattern.search(value), value
    assert value.startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(instant))))


@pytest.mark.parametrize("field", sorted(contract.GENERATED_FIELDS))
def test_generated_fields_are_checked_on_a_run_s_first_event(field: str) -> None:
    emitter = Emitter(MemorySink())
    event = dict(load_examples("valid")[0][1])
    shared = SharedFields(
        {k: event.pop(k) for k in ("producer", "pipeline_id", "run_id", "attempt", "context")}
    )
    event[field] = "not valid"
    with pytest.raises(contract.LineageValidationError):
        emitter.emit(event, shared)
