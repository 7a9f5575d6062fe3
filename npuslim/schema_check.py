"""Checking a JSON document against one of npuslim's JSON schemas, without a dependency.

Supports the keywords npuslim's schemas use (``type``, ``required``,
``properties``, ``additionalProperties``, ``items``, ``enum``, ``const``,
``pattern``, ``minimum``, ``maximum``, ``minItems``, ``maxItems``, ``maxLength``,
``$ref`` to ``#/$defs/...``); a schema with any other validation keyword is
refused (``SchemaUnsupported``), so a new keyword cannot be silently ignored.
The tests check it agrees with the ``jsonschema`` package on every schema and
the hostile-input corpus. Iterative: deep nesting costs no recursion.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment", "default", "examples"})
_KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties", "items", "enum", "const",
                       "pattern", "minimum", "maximum", "minItems", "maxItems", "maxLength", "$ref"})
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or isinstance(v, float) and v.is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaUnsupported(Exception):
    """The schema uses a keyword this checker does not implement."""


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A shipped schema (``npuslim/schemas/NAME.schema.json``), checked for supported keywords."""
    text = resources.files("npuslim").joinpath(f"schemas/{name}.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    _check_keywords(schema)
    return schema


def _check_keywords(schema: dict[str, Any]) -> None:
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        unknown = set(node) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise SchemaUnsupported(f"unsupported schema keyword(s): {', '.join(sorted(unknown))}")
        stack.extend((node.get("properties") or {}).values())
        stack.extend((node.get("$defs") or {}).values())
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                stack.append(node[key])


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def first_error(document: Any, schema: dict[str, Any]) -> str | None:
    """The first place ``document`` breaks ``schema`` ("files[3].path: expected string"), or ``None``."""
    defs = schema.get("$defs", {})
    stack: list[tuple[Any, dict[str, Any], str]] = [(document, schema, "")]
    while stack:
        value, rule, where = stack.pop()
        while "$ref" in rule:
            ref = rule["$ref"]
            if not ref.startswith("#/$defs/"):
                raise SchemaUnsupported(f"unsupported $ref {ref}")
            rule = defs[ref[len("#/$defs/"):]]
        at = where or "top level"
        kinds = rule.get("type")
        if kinds is not None:
            names = [kinds] if isinstance(kinds, str) else kinds
            if not any(_TYPES[k](value) for k in names):
                return f"{at}: expected {' or '.join(names)}, found {_kind(value)}"
        if "const" in rule and not _equal(value, rule["const"]):
            return f"{at}: expected {json.dumps(rule['const'])}"
        if "enum" in rule and not any(_equal(value, e) for e in rule["enum"]):
            return f"{at}: expected one of {', '.join(json.dumps(e) for e in rule['enum'])}"
        if isinstance(value, str):
            if "maxLength" in rule and len(value) > rule["maxLength"]:
                return f"{at}: longer than {rule['maxLength']} characters"
            if "pattern" in rule and not re.search(rule["pattern"], value):
                return f"{at}: does not match {rule['pattern']}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in rule and value < rule["minimum"]:
                return f"{at}: less than {rule['minimum']}"
            if "maximum" in rule and value > rule["maximum"]:
                return f"{at}: more than {rule['maximum']}"
        if isinstance(value, dict):
            for key in rule.get("required", ()):
                if key not in value:
                    return f"{at}: missing {key!r}"
            props = rule.get("properties", {})
            extra = rule.get("additionalProperties", True)
            for key in sorted(value, key=str, reverse=True):
                child_where = f"{where}.{key}" if where else str(key)
                if key in props:
                    stack.append((value[key], props[key], child_where))
                elif extra is False:
                    shown = key if len(key) <= 40 else key[:37] + "..."
                    return f"{at}: unknown field {shown!r}"
                elif isinstance(extra, dict):
                    stack.append((value[key], extra, child_where))
        if isinstance(value, list):
            if "minItems" in rule and len(value) < rule["minItems"]:
                return f"{at}: fewer than {rule['minItems']} items"
            if "maxItems" in rule and len(value) > rule["maxItems"]:
                return f"{at}: more than {rule['maxItems']} items"
            items = rule.get("items")
            if isinstance(items, dict):
                for i in range(len(value) - 1, -1, -1):
                    stack.append((value[i], items, f"{where}[{i}]"))
    return None


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__
