"""Compile a JSON Schema into one straight-line Python function: the hot-path validator.

Why not a general validator: the reference implementation (jsonschema) costs about 45 times a bare
``json.dumps`` per event, and general code generators (fastjsonschema) still pay for generality
(an exception per ``if`` branch, key-set copies). lineage_lib validates every event before it leaves
the job, so this compiler handles only the keyword subset the lineage schemas are written in, inlines
every ``$ref``, and refuses any other keyword rather than ignore it. The tests check that it accepts
exactly what jsonschema (draft 2020-12) accepts, on every example and on generated events.

Subset: type (one of object, array, string, integer, number, boolean, null), properties, required,
additionalProperties (false or a schema), propertyNames, minProperties, maxProperties, items (one
schema), minItems, maxItems, const and enum (strings), pattern, minLength, maxLength, minimum,
maximum, allOf, if/then/else, and local ``$ref`` to ``#/$defs/<name>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lineage_lib.errors import LineageError

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
)
_TYPE_TESTS = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    # JSON Schema counts 1.0 as an integer, and a boolean as neither integer nor number.
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool)"
    " or isinstance({v}, float) and {v}.is_integer())",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
}
_OBJECT_KEYWORDS = (
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
)
_ARRAY_KEYWORDS = ("items", "minItems", "maxItems")
_STRING_KEYWORDS = ("pattern", "minLength", "maxLength")
_NUMBER_KEYWORDS = ("minimum", "maximum")
_SUPPORTED = frozenset(
    {"type", "const", "enum", "allOf", "if", "then", "else", "$ref"}
    | set(_OBJECT_KEYWORDS + _ARRAY_KEYWORDS + _STRING_KEYWORDS + _NUMBER_KEYWORDS)
)


_MATCH_MEMO_LIMIT = 4096
# Only strings this short at most are remembered: names, ids, tag values repeat; an error's message
# or stack does not, and 4096 of them would hold megabytes for the life of the process.
_MEMO_MAX_LENGTH = 1024


# A pattern that only excludes characters: the whole string, none of the class (``^[^\ud800-\udfff]*$``)
_EXCLUDING_ONLY = re.compile(r"\^\[\^((?:\\.|[^\]\\])+)\]\*\$")


def _every_ascii_string_matches(pattern: str) -> bool:
    """Whether ``pattern`` is ``^[^C]*$`` with no ASCII character in C: then every ASCII string
    matches it (the class consumes it whole), and only other strings need the regex search."""
    shape = _EXCLUDING_ONLY.fullmatch(pattern)
    if shape is None:
        return False
    excluded = re.compile(f"[{shape.group(1)}]")
    return not any(excluded.fullmatch(chr(code)) for code in range(128))


class SchemaCompileError(LineageError):
    """The schema uses a keyword or form outside the subset this compiler supports."""


class SchemaViolation(Exception):
    """Raised by a compiled validator: where (path parts), which rule, and why."""

    def __init__(self, path: tuple[Any, ...], rule: str, message: str, value: Any) -> None:
        super().__init__(message)
        self.path = path
        self.rule = rule
        self.message = message
        self.value = value


def _message(v: str, suffix: str) -> str:
    """Source of an expression giving the error message: the value's repr, then ``suffix``."""
    return f"repr({v}) + {suffix!r}"


def _fail(path: tuple[Any, ...], rule: str, message: str, value: Any) -> SchemaViolation:
    return SchemaViolation(path, rule, message, value)


@dataclass(frozen=True)
class _Site:
    """Where generated checks go: the output lines, the variable checked, its path, the indentation,
    and what a failed check does (raise a SchemaViolation, or ``return False`` in an ``if`` test)."""

    out: list[str]
    v: str
    path: tuple[str, ...]
    ind: str
    on_fail: str

    def emit(self, condition: str, rule: str, message: str) -> None:
        """``if condition: <fail>``; ``message`` is the source of an expression."""
        self.out.append(f"{self.ind}if {condition}:")
        if self.on_fail == "raise":
            path = "(" + "".join(f"{p}, " for p in self.path) + ")"
            self.out.append(f"{self.ind}    raise _fail({path}, {rule!r}, {message}, {self.v})")
        else:
            self.out.append(f"{self.ind}    {self.on_fail}")

    def block(self, header: str, v: str | None = None, part: str | None = None, depth: int = 1) -> _Site:
        """Open ``header`` (an if or for line) and return the site of its body."""
        self.out.append(f"{self.ind}{header}")
        inner = self.ind + "    " * depth
        self.out.append(f"{inner}pass")
        path = self.path if part is None else (*self.path, part)
        return replace(self, v=v or self.v, path=path, ind=inner)


class _Generator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.constants: dict[str, Any] = {}
        self.functions: list[list[str]] = []
        self._counter = 0
        self._refs: list[str] = []
        self._memos: dict[tuple[Any, ...], str] = {}

    def name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def constant(self, prefix: str, value: Any) -> str:
        for existing, held in self.constants.items():
            if existing.startswith(prefix) and held == value and type(held) is type(value):
                return existing
        name = self.name(prefix)
        self.constants[name] = value
        return name

    def memo(self, checks: tuple[Any, ...]) -> str:
        """The name of the set of strings known to pass one combination of string keywords."""
        if checks not in self._memos:
            self._memos[checks] = self.name("_M")
            self.constants[self._memos[checks]] = set()
        return self._memos[checks]

    def resolve(self, schema: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        ref = schema["$ref"]
        siblings = set(schema) - {"$ref"} - _ANNOTATIONS
        if siblings or not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            raise SchemaCompileError(
                f"{where}: only a local $ref to #/$defs/<name>, without keywords beside it"
            )
        if ref in self._refs:
            raise SchemaCompileError(f"{where}: recursive $ref {ref} cannot be inlined")
        target = self.root.get("$defs", {}).get(ref[len("#/$defs/") :])
        if not isinstance(target, Mapping):
            raise SchemaCompileError(f"{where}: $ref {ref} does not resolve")
        return target

    def node(self, schema: Any, at: _Site) -> None:
        """Append the checks of ``at.v`` against ``schema``."""
        where = "/".join(at.path) or "(root)"
        if not isinstance(schema, Mapping):
            raise SchemaCompileError(f"{where}: boolean schemas are not supported")
        if "$ref" in schema:
            target = self.resolve(schema, where)
            self._refs.append(schema["$ref"])
            self.node(target, at)
            self._refs.pop()
            return
        unknown = set(schema) - _SUPPORTED - _ANNOTATIONS
        if unknown:
            raise SchemaCompileError(f"{where}: keyword(s) {sorted(unknown)} are outside the compiled subset")
        kind = schema.get("type")
        if kind is not None:
            if not isinstance(kind, str) or kind not in _TYPE_TESTS:
                raise SchemaCompileError(f"{where}: type must be one of {sorted(_TYPE_TESTS)}")
            at.emit(
                f"not {_TYPE_TESTS[kind].format(v=at.v)}", "type", _message(at.v, f" is not of type {kind!r}")
            )
        for keyword in ("const", "enum"):
            if keyword in schema:
                values = [schema[keyword]] if keyword == "const" else list(schema[keyword])
                if not values or not all(isinstance(x, str) for x in values):
                    raise SchemaCompileError(f"{where}: {keyword} supports string values only")
                allowed = self.constant("_E", frozenset(values))
                condition = f"not (isinstance({at.v}, str) and {at.v} in {allowed})"
                at.emit(condition, keyword, _message(at.v, f" is not one of {values!r}"))
        self.typed_keywords(schema, at, kind)
        for sub in schema.get("allOf", ()):
            self.node(sub, at)
        if "if" in schema:
            test = self.predicate(schema["if"], at.path)
            if "then" in schema:
                self.node(schema["then"], at.block(f"if {test}({at.v}):"))
            if "else" in schema:
                self.node(schema["else"], at.block(f"if not {test}({at.v}):"))

    def typed_keywords(self, schema: Mapping[str, Any], at: _Site, kind: Any) -> None:
        groups = (
            ("object", _OBJECT_KEYWORDS, self.object_keywords),
            ("array", _ARRAY_KEYWORDS, self.array_keywords),
            ("string", _STRING_KEYWORDS, self.string_keywords),
            ("number", _NUMBER_KEYWORDS, self.number_keywords),
        )
        for group, keywords, emit in groups:
            if not any(k in schema for k in keywords):
                continue
            if kind == group or (group == "number" and kind == "integer"):
                emit(schema, at)
            else:  # the keywords apply only to instances of their type (JSON Schema semantics)
                emit(schema, at.block(f"if {_TYPE_TESTS[group].format(v=at.v)}:"))

    def object_keywords(self, schema: Mapping[str, Any], at: _Site) -> None:
        v, properties = at.v, schema.get("properties", {})
        if schema.get("required"):
            required = self.constant("_Q", frozenset(schema["required"]))
            message = f"repr(sorted({required} - set({v}))) + ' are required properties'"
            at.emit(f"not {required} <= {v}.keys()", "required", message)
        if "minProperties" in schema:
            at.emit(f"len({v}) < {int(schema['minProperties'])}", "minProperties", "'has too few properties'")
        if "maxProperties" in schema:
            at.emit(
                f"len({v}) > {int(schema['maxProperties'])}", "maxProperties", "'has too many properties'"
            )
        extra = schema.get("additionalProperties", True)
        known = self.constant("_K", frozenset(properties))
        if extra is False:
            message = f"'Additional properties are not allowed (' + repr(sorted(set({v}) - {known})) + ')'"
            at.emit(f"not {v}.keys() <= {known}", "additionalProperties", message)
        for key, sub in properties.items():
            child = self.name("v")
            body = at.block(f"if {key!r} in {v}:", v=child, part=repr(key))
            body.out.append(f"{body.ind}{child} = {v}[{key!r}]")
            self.node(sub, body)
        if isinstance(extra, Mapping):
            key_var, child = self.name("k"), self.name("v")
            loop = at.block(f"for {key_var}, {child} in {v}.items():", v=child, part=key_var)
            self.node(extra, loop.block(f"if {key_var} not in {known}:"))
        if "propertyNames" in schema:
            key_var = self.name("k")
            self.node(schema["propertyNames"], at.block(f"for {key_var} in {v}:", v=key_var, part=key_var))

    def array_keywords(self, schema: Mapping[str, Any], at: _Site) -> None:
        if "minItems" in schema:
            at.emit(f"len({at.v}) < {int(schema['minItems'])}", "minItems", "'has too few items'")
        if "maxItems" in schema:
            at.emit(f"len({at.v}) > {int(schema['maxItems'])}", "maxItems", "'has too many items'")
        if "items" in schema:
            index, child = self.name("i"), self.name("v")
            self.node(
                schema["items"], at.block(f"for {index}, {child} in enumerate({at.v}):", v=child, part=index)
            )

    def string_keywords(self, schema: Mapping[str, Any], at: _Site) -> None:
        v = at.v
        checks = []
        if "minLength" in schema:
            checks.append(
                (f"len({v}) < {int(schema['minLength'])}", "minLength", _message(v, " is too short"))
            )
        if "maxLength" in schema:
            checks.append(
                (f"len({v}) > {int(schema['maxLength'])}", "maxLength", _message(v, " is too long"))
            )
        if "pattern" not in schema:
            for check in checks:
                at.emit(*check)
            return
        regex = self.constant("_R", re.compile(schema["pattern"]))
        mismatch = f"{regex}.search({v}) is None"
        if _every_ascii_string_matches(schema["pattern"]):  # str.isascii() is O(1) in CPython
            mismatch = f"not {v}.isascii() and {mismatch}"
        checks.append((mismatch, "pattern", _message(v, f" does not match {schema['pattern']!r}")))
        max_length = schema.get("maxLength")
        if not isinstance(max_length, int) or max_length > _MEMO_MAX_LENGTH:
            for check in checks:
                at.emit(*check)
            return
        # Names, ids and dataset URIs repeat on every event of a run: remember the strings that passed
        # these string checks (a set lookup costs a tenth of a regex search), up to a bound.
        seen = self.memo((schema.get("minLength"), schema.get("maxLength"), schema["pattern"]))
        unseen = at.block(f"if {v} not in {seen}:")
        for check in checks:
            unseen.emit(*check)
        unseen.out.append(f"{unseen.ind}if len({seen}) < {_MATCH_MEMO_LIMIT}:")
        unseen.out.append(f"{unseen.ind}    {seen}.add({v})")

    def number_keywords(self, schema: Mapping[str, Any], at: _Site) -> None:
        if "minimum" in schema:
            limit = schema["minimum"]
            at.emit(f"{at.v} < {limit!r}", "minimum", _message(at.v, f" is less than the minimum of {limit}"))
        if "maximum" in schema:
            limit = schema["maximum"]
            at.emit(
                f"{at.v} > {limit!r}", "maximum", _message(at.v, f" is greater than the maximum of {limit}")
            )

    def predicate(self, schema: Any, path: tuple[str, ...]) -> str:
        """A function returning whether a value is valid against ``schema`` (for ``if``)."""
        name = self.name("_is")
        body: list[str] = [f"def {name}(v0):"]
        self.node(schema, _Site(body, "v0", path, "    ", "return False"))
        body.append("    return True")
        self.functions.append(body)
        return name

    def source(self) -> str:
        body = ["def validate(v0):"]
        self.node(self.root, _Site(body, "v0", (), "    ", "raise"))
        body.append("    return None")
        chunks = ["\n".join(f) for f in self.functions] + ["\n".join(body)]
        return "\n\n".join(chunks) + "\n"


def compile_source(schema: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The generated source and the constants it refers to (for inspection and tests)."""
    generator = _Generator(schema)
    source = generator.source()
    return source, dict(generator.constants)


def compile_validator(schema: Mapping[str, Any]) -> Callable[[Any], None]:
    """A function that returns None for a valid instance and raises SchemaViolation otherwise."""
    source, constants = compile_source(schema)
    namespace: dict[str, Any] = {"_fail": _fail, **constants}
    exec(compile(source, f"<lineage schema {schema.get('$id', '')}>", "exec"), namespace)
    validate: Callable[[Any], None] = namespace["validate"]
    return validate
