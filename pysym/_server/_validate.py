"""Request bodies checked against the schemas of the OpenAPI document, in the front.

The front checks the shape before a request is queued, so a malformed request is a
``400`` at once, also when ``?timeout=0`` would otherwise answer "pending" first.  The
checker reads the small subset of JSON Schema that ``_openapi`` uses (type, nullable,
properties, required, additionalProperties, items, maxItems, enum, oneOf, minLength,
pattern, minimum, maximum, $ref to components), so the document and the check cannot
disagree.  What a value *means* (an address, a debug id) is the library's business: it
reports those per frame or per module.

A schema is compiled once into nested closures (the check runs in the event loop, on
every frame of every request: interpreting the schema dicts and formatting the place of
each value cost ~12 ms for 512 frames).  A closure returns ``None`` or the reason as a
list ``[message, place parts innermost first...]``; the place is only spelt on failure.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

__all__ = ["check", "SchemaViolation"]


class SchemaViolation(ValueError):
    """The body does not have the documented shape (``str(e)`` says where and why)."""


_Why = Optional[List[str]]
_Check = Callable[[Any], _Why]

# JSON type -> (Python types, whether bool is excluded: bool is an int to Python)
_TYPES: Dict[str, Tuple[Tuple[type, ...], bool]] = {
    "object": ((dict,), False),
    "array": ((list,), False),
    "string": ((str,), False),
    "boolean": ((bool,), False),
    "integer": ((int,), True),
    "number": ((int, float), True),
}
# (schema, components, compiled check) by their ids; the objects are kept so ids stay theirs
_COMPILED: Dict[Tuple[int, int], Tuple[Any, Any, _Check]] = {}


def _compile(schema: Mapping[str, Any], components: Mapping[str, Any], refs: Dict[str, _Check]) -> _Check:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in refs:
            slot: List[_Check] = []
            refs[name] = lambda v: slot[0](v)  # (a schema may name itself)
            slot.append(_compile(components[name], components, refs))
        return refs[name]
    nullable = bool(schema.get("nullable"))
    if "oneOf" in schema:
        return _one_of(schema["oneOf"], nullable, components, refs)
    steps: List[_Check] = []
    t = schema.get("type")
    types, no_bool = _TYPES[t] if t is not None else ((object,), False)
    bad_t = [" must be of type %s" % t]
    if "enum" in schema:
        enum, bad_e = schema["enum"], " must be one of %s" % ", ".join(map(str, schema["enum"]))
        steps.append(lambda v: None if v in enum else [bad_e])
    min_len, pat = schema.get("minLength", 0), schema.get("pattern")
    if min_len or pat is not None:
        rx = re.compile(pat) if pat is not None else None

        def text(v: Any) -> _Why:
            if isinstance(v, str):
                if len(v) < min_len:
                    return [" is too short"]
                if rx is not None and rx.search(v) is None:
                    return [" does not match %s" % pat]
            return None
        steps.append(text)
    if t in ("integer", "number") and ("minimum" in schema or "maximum" in schema):
        lo, hi = schema.get("minimum"), schema.get("maximum")

        def bounds(v: Any) -> _Why:
            if lo is not None and v < lo:
                return [" must be at least %s" % lo]
            if hi is not None and v > hi:
                return [" must be at most %s" % hi]
            return None
        steps.append(bounds)
    if "maxItems" in schema or "items" in schema:
        steps.append(_array(schema.get("maxItems"), schema.get("items"), components, refs))
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        steps.append(_object(schema, components, refs))

    step = steps[0] if len(steps) == 1 else None

    def run(v: Any) -> _Why:
        if v is None:
            return None if nullable else [" must not be null"]
        if not isinstance(v, types) or (no_bool and v.__class__ is bool):
            return list(bad_t)
        if step is not None:
            return step(v)
        for each in steps:
            why = each(v)
            if why is not None:
                return why
        return None
    return run


def _one_of(forms: List[Mapping[str, Any]], nullable: bool, components: Mapping[str, Any],
            refs: Dict[str, _Check]) -> _Check:
    checks = [_compile(f, components, refs) for f in forms]
    # Objects told apart by their "type" (sources): the form it names says why.
    kinds = {k: c for f, c in zip(forms, checks) for k in f.get("properties", {}).get("type", {}).get("enum", ())}
    bad_kind = [": 'type' must be one of %s" % ", ".join(kinds)]
    # Forms of pairwise different JSON types (an address: a string or an integer): only
    # the form of the value's type can match, so a value that passes it is settled.
    by_type: Optional[List[Tuple[Tuple[type, ...], bool, _Check]]] = None
    named = [f.get("type") for f in forms]
    if None not in named and len(set(named)) == len(named) and not {"integer", "number"} <= set(named):
        by_type = [_TYPES[n] + (c,) for n, c in zip(named, checks)]  # type: ignore[index]

    def run(v: Any) -> _Why:
        if v is None:
            return None if nullable else [" must not be null"]
        if by_type is not None:
            for types, no_bool, c in by_type:
                if isinstance(v, types) and not (no_bool and v.__class__ is bool):
                    if c(v) is None:
                        return None
                    break
        ok = 0
        for c in checks:
            if c(v) is None:
                ok += 1
        if ok == 1:
            return None
        if ok:
            return [" is ambiguous"]
        if isinstance(v, dict) and kinds:
            kind = v.get("type")
            form = kinds.get(kind) if isinstance(kind, str) else None
            return list(bad_kind) if form is None else form(v)
        return [" matches none of its allowed forms"]
    return run


def _array(max_items: Optional[int], items: Optional[Mapping[str, Any]], components: Mapping[str, Any],
           refs: Dict[str, _Check]) -> _Check:
    item = _compile(items, components, refs) if items is not None else None

    def run(v: Any) -> _Why:
        if not isinstance(v, list):
            return None
        if max_items is not None and len(v) > max_items:
            return [" has more than %d items" % max_items]
        if item is not None:
            for i, x in enumerate(v):
                why = item(x)
                if why is not None:
                    why.append("[%d]" % i)
                    return why
        return None
    return run


def _object(schema: Mapping[str, Any], components: Mapping[str, Any], refs: Dict[str, _Check]) -> _Check:
    props = {k: _compile(s, components, refs) for k, s in schema.get("properties", {}).items()}
    required = list(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    closed = extra is False
    rest = _compile(extra, components, refs) if isinstance(extra, dict) else None

    def run(v: Any) -> _Why:
        if not isinstance(v, dict):
            return None
        for k in required:
            if k not in v:
                return [" needs %r" % (k,)]
        for k, x in v.items():
            sub = props.get(k)
            if sub is None:
                if closed:
                    return [" has an unknown key %r" % (k,)]
                sub = rest
            if sub is not None:
                why = sub(x)
                if why is not None:
                    why.append(".%s" % (k,))
                    return why
        return None
    return run


def check(schema: Mapping[str, Any], value: Any, components: Mapping[str, Any], where: str = "the body") -> None:
    """Raises :class:`SchemaViolation` if ``value`` does not have the shape of ``schema``."""
    key = (id(schema), id(components))
    hit = _COMPILED.get(key)
    if hit is None or hit[0] is not schema or hit[1] is not components:
        if len(_COMPILED) > 64:  # (a service compiles a handful; tests make many services)
            _COMPILED.clear()
        hit = _COMPILED[key] = (schema, components, _compile(schema, components, {}))
    why = hit[2](value)
    if why is not None:
        raise SchemaViolation(where + "".join(reversed(why[1:])) + why[0])
