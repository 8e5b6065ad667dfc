"""Request bodies checked against the schemas of the OpenAPI document, in the front.

The front checks the shape before a request is queued, so a malformed request is a
``400`` at once, also when ``?timeout=0`` would otherwise answer "pending" first.  The
checker reads the small subset of JSON Schema that ``_openapi`` uses (type, nullable,
properties, required, additionalProperties, items, maxItems, enum, oneOf, minLength,
pattern, minimum, maximum, $ref to components), so the document and the check cannot
disagree.  What a value *means* (an address, a debug id) is the library's business: it
reports those per frame or per module.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

__all__ = ["check", "SchemaViolation"]


class SchemaViolation(ValueError):
    """The body does not have the documented shape (``str(e)`` says where and why)."""


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}
_PATTERNS: Dict[str, "re.Pattern[str]"] = {}


def _errors(schema: Mapping[str, Any], value: Any, where: str, components: Mapping[str, Any]) -> Optional[str]:
    """The first reason ``value`` breaks ``schema``, or None."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if value is None:
        return None if schema.get("nullable") else "%s must not be null" % where
    if "oneOf" in schema:
        forms = schema["oneOf"]
        ok = [s for s in forms if _errors(s, value, where, components) is None]
        if len(ok) == 1:
            return None
        if ok:
            return "%s is ambiguous" % where
        if isinstance(value, dict):
            # Objects told apart by their "type" (sources): the form it names says why.
            kinds = {k: f for f in forms for k in f.get("properties", {}).get("type", {}).get("enum", ())}
            if kinds:
                kind = value.get("type")
                form = kinds.get(kind) if isinstance(kind, str) else None
                if form is None:
                    return "%s: 'type' must be one of %s" % (where, ", ".join(kinds))
                return _errors(form, value, where, components)
        return "%s matches none of its allowed forms" % where
    t = schema.get("type")
    if t is not None and not _TYPES[t](value):
        return "%s must be of type %s" % (where, t)
    if "enum" in schema and value not in schema["enum"]:
        return "%s must be one of %s" % (where, ", ".join(map(str, schema["enum"])))
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return "%s is too short" % where
        pat = schema.get("pattern")
        if pat is not None:
            rx = _PATTERNS.get(pat) or _PATTERNS.setdefault(pat, re.compile(pat))
            if rx.search(value) is None:
                return "%s does not match %s" % (where, pat)
    if t in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return "%s must be at least %s" % (where, schema["minimum"])
        if "maximum" in schema and value > schema["maximum"]:
            return "%s must be at most %s" % (where, schema["maximum"])
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            return "%s has more than %d items" % (where, schema["maxItems"])
        items = schema.get("items")
        if items is not None:
            for i, v in enumerate(value):
                why = _errors(items, v, "%s[%d]" % (where, i), components)
                if why:
                    return why
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        for k in schema.get("required", ()):
            if k not in value:
                return "%s needs %r" % (where, k)
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            sub = props.get(k)
            if sub is None:
                if extra is False:
                    return "%s has an unknown key %r" % (where, k)
                if isinstance(extra, dict):
                    sub = extra
            if sub is not None:
                why = _errors(sub, v, "%s.%s" % (where, k), components)
                if why:
                    return why
    return None


def check(schema: Mapping[str, Any], value: Any, components: Mapping[str, Any], where: str = "the body") -> None:
    """Raises :class:`SchemaViolation` if ``value`` does not have the shape of ``schema``."""
    why = _errors(schema, value, where, components)
    if why:
        raise SchemaViolation(why)
