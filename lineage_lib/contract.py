"""The event contract: field names, event types, size limit and schema loading, defined once.

The JSON Schemas under ``schemas/lineage-event/<version>/schema.json`` are the source of truth; the
wheel carries them as ``lineage_lib/_schemas``. Events are validated on the hot path by a validator
compiled from the schema (lineage_lib._schema_compiler); ``explain`` re-checks a rejected event with
the reference implementation (jsonschema, when installed) for the most precise message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

from lineage_lib._schema_compiler import SchemaViolation, compile_validator
from lineage_lib.errors import LineageValidationError, UnknownSchemaVersionError

SCHEMA_NAME: Final = "lineage-event"
CURRENT_VERSION: Final = "1.0"
SCHEMA_ID_PREFIX: Final = "urn:lineage-plane:schema:lineage-event:"

# CloudWatch Logs accepts at most 256 KiB per log event, and PutLogEvents counts 26 bytes of overhead
# per event. Anything larger is truncated by the service, so the library refuses it instead.
CLOUDWATCH_EVENT_LIMIT: Final = 262_144
CLOUDWATCH_EVENT_OVERHEAD: Final = 26
MAX_EVENT_BYTES: Final = CLOUDWATCH_EVENT_LIMIT - CLOUDWATCH_EVENT_OVERHEAD


class Field:
    """Top-level and nested field names of an event."""

    SCHEMA_VERSION: Final = "schema_version"
    EVENT_ID: Final = "event_id"
    EVENT_TIME: Final = "event_time"
    EVENT_TYPE: Final = "event_type"
    PRODUCER: Final = "producer"
    PIPELINE_ID: Final = "pipeline_id"
    RUN_ID: Final = "run_id"
    ATTEMPT: Final = "attempt"
    STEP: Final = "step"
    SOURCE: Final = "source"
    TARGET: Final = "target"
    COLUMNS: Final = "columns"
    METRICS: Final = "metrics"
    ERROR: Final = "error"
    CONTEXT: Final = "context"
    TAGS: Final = "tags"
    # nested: producer and schema fields
    NAME: Final = "name"
    VERSION: Final = "version"
    TYPE: Final = "type"
    # context
    PLATFORM: Final = "platform"
    # source / target datasets
    DATASET_ID: Final = "id"
    LOCATION: Final = "location"
    SCHEMA: Final = "schema"
    FIELDS: Final = "fields"
    # columns[] and their sources[]
    COLUMN: Final = "column"
    SOURCES: Final = "sources"
    DATASET: Final = "dataset"
    TRANSFORMATION: Final = "transformation"
    DESCRIPTION: Final = "description"
    # metrics
    RECORDS: Final = "records"
    BYTES: Final = "bytes"
    FILES: Final = "files"
    # error
    MESSAGE: Final = "message"
    STACK: Final = "stack"
    EXIT_CODE: Final = "exit_code"
    SIGNAL: Final = "signal"


class Refusal:
    """What lineage_lib in lenient mode puts in place of an event it could not emit as is.

    A value JSON cannot carry (a ``datetime``, ``NaN``, an object) or an event too large even after
    its optional details are dropped: the job goes on, and instead of the event lineage_lib emits a
    line with the event's identity fields, the offending value replaced by its ``repr``, and this
    top-level object. The schema allows no such field, so no validator ever archives the line; the
    plane's quarantines it under ``QuarantineCode.PRODUCER_REFUSED`` with the producer's reason.
    """

    KEY: Final = "producer_refusal"
    CODE: Final = "code"
    PATH: Final = "path"  # dotted location of the offending value ("tags.when"), "" for the whole event
    DETAIL: Final = "detail"

    # codes
    NOT_JSON: Final = "not_json"  # a value json cannot serialise (datetime, set, object, bytes)
    NON_FINITE: Final = "non_finite_number"  # NaN or +-Infinity: not JSON (allow_nan=False)
    OVERSIZE: Final = "oversize"  # over MAX_EVENT_BYTES even without its optional details
    ALL: Final = (NOT_JSON, NON_FINITE, OVERSIZE)


# Fields lineage_lib makes itself for every event (lineage_lib._ids); their generators are tested against
# the schema, so the emitter checks them on a run's first event and trusts them after that.
GENERATED_FIELDS: Final = frozenset({Field.SCHEMA_VERSION, Field.EVENT_ID, Field.EVENT_TIME})


class EventType:
    """The lifecycle and operation event types of schema 1.x."""

    RUN_START: Final = "RUN_START"
    RUN_COMPLETE: Final = "RUN_COMPLETE"
    RUN_FAIL: Final = "RUN_FAIL"
    RUN_ABORT: Final = "RUN_ABORT"
    STEP_START: Final = "STEP_START"
    STEP_COMPLETE: Final = "STEP_COMPLETE"
    STEP_FAIL: Final = "STEP_FAIL"
    READ: Final = "READ"
    WRITE: Final = "WRITE"
    TRANSFORM: Final = "TRANSFORM"

    RUN_TERMINAL: Final = frozenset({RUN_COMPLETE, RUN_FAIL, RUN_ABORT})
    STEP_TERMINAL: Final = frozenset({STEP_COMPLETE, STEP_FAIL})
    OPERATIONS: Final = frozenset({READ, WRITE, TRANSFORM})


class Platform:
    GLUE: Final = "glue"
    EMR: Final = "emr"
    LAMBDA: Final = "lambda"
    LOCAL: Final = "local"

    ALL: Final = (GLUE, EMR, LAMBDA, LOCAL)


class Transformation:
    """Column transformation kinds (``columns[].transformation``)."""

    IDENTITY: Final = "identity"
    RENAME: Final = "rename"
    CAST: Final = "cast"
    EXPRESSION: Final = "expression"
    AGGREGATION: Final = "aggregation"
    FILTER: Final = "filter"
    JOIN: Final = "join"
    GROUP_BY: Final = "group_by"
    MASKING: Final = "masking"
    OTHER: Final = "other"


def _schema_root() -> Path:
    packaged = resources.files("lineage_lib") / "_schemas" / SCHEMA_NAME
    if packaged.is_dir():
        return Path(str(packaged))
    # A source checkout (editable install, tests): the repository's schemas/ folder.
    return Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_NAME


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@functools.cache
def known_versions() -> tuple[str, ...]:
    """Schema versions this installation can validate, oldest first."""
    root = _schema_root()
    versions = [p.name for p in root.iterdir() if (p / "schema.json").is_file()]
    return tuple(sorted(versions, key=_version_key))


@functools.cache
def schema(version: str = CURRENT_VERSION) -> Mapping[str, Any]:
    """The JSON Schema of one version; raises UnknownSchemaVersionError for a version not shipped."""
    if version not in known_versions():
        raise UnknownSchemaVersionError(version, known_versions())
    with (_schema_root() / version / "schema.json").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@functools.cache
def compiled_validator(
    version: str = CURRENT_VERSION, pre_validated: frozenset[str] = frozenset()
) -> Callable[[Any], None]:
    """The hot-path validator of one version: returns None or raises SchemaViolation.

    Compiled once per process from the schema (see lineage_lib._schema_compiler); the tests check
    that it accepts exactly what the reference validator, jsonschema, accepts. ``pre_validated``
    names top-level fields whose values have already passed this schema (the same immutable
    objects, shared by every event of a run): their presence is still checked, their content is not.
    """
    definition = schema(version)
    if pre_validated:
        properties = definition["properties"]
        definition = {
            **definition,
            "properties": {k: {} if k in pre_validated else v for k, v in properties.items()},
        }
    return compile_validator(definition)


def declared_version(event: Mapping[str, Any]) -> str:
    """The schema version an event declares, or UnknownSchemaVersionError."""
    version = event.get(Field.SCHEMA_VERSION) if isinstance(event, Mapping) else None
    if not isinstance(version, str) or version not in known_versions():
        raise UnknownSchemaVersionError(version, known_versions())
    return version


def validate(event: Mapping[str, Any]) -> None:
    """Validate an event against the schema of the version it declares.

    Raises LineageValidationError (UnknownSchemaVersionError for a missing or unknown version).
    """
    validator = compiled_validator(declared_version(event))
    try:
        validator(event)
    except SchemaViolation as err:
        raise validation_error(err) from err


def validation_error(err: SchemaViolation) -> LineageValidationError:
    """The library's typed error for what the compiled validator found."""
    path = ".".join(str(part) for part in err.path)
    return LineageValidationError(err.message, path=path, rule=err.rule, value=err.value)


def explain(event: Mapping[str, Any]) -> LineageValidationError | None:
    """The reference validator's (jsonschema) best error for an event, or None when it is valid.

    Slower than ``validate``; meant for reporting rejected events. Needs jsonschema installed.
    """
    try:
        version = declared_version(event)
    except UnknownSchemaVersionError as err:
        return err
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(version))
    best = jsonschema.exceptions.best_match(validator.iter_errors(event))
    if best is None:
        return None
    return LineageValidationError(
        best.message,
        path=".".join(str(part) for part in best.absolute_path),
        rule=str(best.validator),
        value=best.instance,
    )
