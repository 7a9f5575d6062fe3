"""Checking a document (JSON, or YAML loaded into the same types) against one of npuslim's JSON schemas.

``jsonschema`` does the validating: one ``Draft202012Validator`` per schema,
built on first use and kept. What this module adds is the contract npuslim's
errors have: ``first_error`` answers one bounded line naming the path of the
first error (``files[3].path: expected a string, found an integer``), never the
offending value in full, and a hostile document (nested deeper than Python's
recursion allows) is such a line too, never a traceback.

``import jsonschema`` costs 150-350 ms on a warm machine (3 s more when the
optional ``rfc3987-syntax`` is installed: jsonschema issue #1428), more than a
whole ``npuslim deps`` run. So jsonschema is imported on first use only, and
``validated_once`` lets a caller skip documents whose exact bytes were valid
before (see there).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npuslim.atomic import write_text
from npuslim.paths import cache_dir

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

# The nouns of the two dialects: a lock file is JSON, a manifest YAML.
# Optional libraries jsonschema imports to check a "format" keyword (none of npuslim's schemas has
# one) that cost more than a whole npuslim run: rfc3987-syntax builds ~35 Earley parsers when
# imported, 2-3 s (jsonschema issue #1428).
_SLOW_FORMAT_LIBRARIES = ("rfc3987_syntax",)
# The others jsonschema tries when it is imported (``jsonschema[format]`` installs them): 60-80 ms
# together in a command that checks a lock file (isoduration alone imports arrow and dateutil). In a
# process that is npuslim alone they are kept out of that import only, and importable afterwards.
_FORMAT_LIBRARIES = ("fqdn", "idna", "rfc3987", "rfc3986_validator", "rfc3339_validator", "webcolors",
                     "jsonpointer", "uri_template", "isoduration")
_ALONE = {"npuslim": False}  # set by skip_slow_format_checkers: this process is the command line

_NOUNS = {
    "json": {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "true or false", "null": "null"},
    "yaml": {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "true or false", "null": "nothing"},
}
NON_BLANK = r"\S"  # the pattern of a string that must hold more than spaces
MAX_MARKERS = 1000
_SHOWN_FIELDS = 5


SCHEMAS = Path(__file__).resolve().parent / "schemas"


@cache
def schema_text(name: str) -> str:
    """The text of a shipped schema (``npuslim/schemas/NAME.schema.json``)."""
    return (SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A shipped schema (``npuslim/schemas/NAME.schema.json``), parsed; the same object on every call."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema


_VALIDATORS: dict[int, tuple[dict[str, Any], Validator]] = {}


def _validator(schema: dict[str, Any]) -> Validator:
    """The validator of ``schema``, built once (the schema is kept alive with it, so its id stays its own)."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None:
        entry = _VALIDATORS[id(schema)] = (schema, _import_validator()(schema))
    return entry[1]


def _import_validator() -> Any:
    """jsonschema's Draft 2020-12 validator; imported without ``_FORMAT_LIBRARIES`` in a process that
    is npuslim alone (no format is asserted: the validators are made without a format checker)."""
    kept_out = [n for n in _FORMAT_LIBRARIES if n not in sys.modules] if _ALONE["npuslim"] and \
        "jsonschema" not in sys.modules else []
    for name in kept_out:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "import fails"
    try:
        from jsonschema import Draft202012Validator
    finally:
        for name in kept_out:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return Draft202012Validator


def skip_slow_format_checkers() -> None:
    """Keep jsonschema, when imported later in this process, from importing ``_SLOW_FORMAT_LIBRARIES``.

    For a process that is npuslim alone (the command line): the formats those
    libraries check (``iri``, ``iri-reference``) then go unchecked in it, which no
    npuslim schema asks for. A library already imported is left alone.
    """
    for name in _SLOW_FORMAT_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import fails"
    _ALONE["npuslim"] = True


def first_error(document: Any, schema: dict[str, Any], *, dialect: str = "json") -> str | None:
    """The first place ``document`` breaks ``schema`` (``"files[3].path: expected a string, found null"``),
    or ``None`` when it is valid. ``dialect`` (``json`` or ``yaml``) picks the nouns of the message."""
    try:
        error = next(iter(_validator(schema).iter_errors(document)), None)
        if error is None:
            return None
        return f"{_where(error)}: {_message(error, _NOUNS[dialect])}"
    except RecursionError:
        return "top level: nested too deeply to be checked"


def validated_once(raw: bytes, document: Any, name: str, *, dialect: str = "json",
                   keep_document: bool = False) -> str | None:
    """``first_error(document, load_schema(name))``, skipped when these exact ``raw`` bytes passed before.

    A pass leaves a marker file in npuslim's cache (``validated/``), named by the
    sha256 of ``raw`` and of the schema's text; finding it skips the check and
    the import of jsonschema. With ``keep_document`` the marker holds ``document``
    as JSON (when JSON gives it back unchanged), for ``remembered_document``. A
    failure is never recorded. The cache folder is never created for this: a run
    that needs no cache (``deps`` on a folder) writes nothing, and the markers start
    once a wheel, pack or probe run has made the cache. A cache that is absent or
    cannot be written only costs the time (it is never an error).
    """
    marker = _marker(name, raw)
    try:
        if marker is not None and marker.is_file():
            return None
    except OSError:  # a cache folder that cannot be read: validate
        pass
    problem = first_error(document, load_schema(name), dialect=dialect)
    if problem is None and marker is not None:
        try:
            marker.parent.mkdir(exist_ok=True)
            write_text(marker, _as_json(document) if keep_document else "")
            _prune(marker.parent)
        except OSError:
            pass
    return problem


def remembered_document(raw: bytes, name: str) -> Any | None:
    """The document ``validated_once(raw, ..., name, keep_document=True)`` kept, else ``None``: valid
    against the schema ``name``, as JSON gave it back. A marker without one is removed, so the next
    ``validated_once`` validates again and keeps the document."""
    marker = _marker(name, raw)
    if marker is None:
        return None
    try:
        text = marker.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    if text:
        with contextlib.suppress(ValueError):  # a damaged marker: forgotten below
            return json.loads(text)
    with contextlib.suppress(OSError):
        marker.unlink()
    return None


def _as_json(document: Any) -> str:
    """``document`` as JSON text when JSON gives it back equal (YAML may hold what JSON cannot), else ``""``."""
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return ""
    return text if json.loads(text) == document else ""


def _prune(folder: Path) -> None:
    """Keep the newest ``MAX_MARKERS`` markers of ``folder`` (every bundle verified leaves one)."""
    entries = list(os.scandir(folder))
    if len(entries) > MAX_MARKERS:
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[: len(entries) - MAX_MARKERS // 2]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _marker_name(name: str, raw: bytes) -> str:
    digest = hashlib.sha256(hashlib.sha256(raw).digest() + schema_text(name).encode()).hexdigest()
    return f"{name}-{digest}"


def _marker(name: str, raw: bytes) -> Path | None:
    try:
        return cache_dir() / "validated" / _marker_name(name, raw)
    except RuntimeError:  # no home folder to hold the cache
        return None


def _where(error: ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required":
        parts.append(_missing(error))
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{_short_key(part)}" if text else _short_key(part)
    return text or "top level"


def _missing(error: ValidationError) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    return next((key for key in error.validator_value if key not in instance), "?")


def _message(error: ValidationError, nouns: dict[str, str]) -> str:
    keyword, rule, value = error.validator, error.validator_value, error.instance
    if keyword == "type":
        wanted = [nouns[t] for t in ([rule] if isinstance(rule, str) else rule)]
        expected = " or ".join(wanted) if len(wanted) < 3 else f"{', '.join(wanted[:-1])} or {wanted[-1]}"
        return f"expected {expected}, found {_kind(value, nouns)}"
    if keyword == "required":
        return "missing"
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        known = error.schema.get("properties", {})
        extra = [_short_key(k) for k in value if k not in known]
        more = f" and {len(extra) - _SHOWN_FIELDS} more" if len(extra) > _SHOWN_FIELDS else ""
        return f"unknown field(s): {', '.join(sorted(extra)[:_SHOWN_FIELDS])}{more}"
    if keyword == "const":
        return f"expected {_literal(rule)}, found {short_value(value)}"
    if keyword == "enum":
        return f"expected one of {', '.join(_literal(e) for e in rule)}"
    if keyword == "pattern":
        return "expected a non-empty string" if rule == NON_BLANK else f"does not match {rule}"
    return _bound_message(keyword, rule)


def _bound_message(keyword: str, rule: Any) -> str:
    if keyword == "minItems":
        return "expected a non-empty list" if rule == 1 else f"fewer than {rule} items"
    if keyword == "minLength" and rule == 1:
        return "expected a non-empty string"
    texts = {"maxItems": f"more than {rule} items", "maxLength": f"longer than {rule} characters",
             "minLength": f"shorter than {rule} characters", "minimum": f"less than {rule}",
             "maximum": f"more than {rule}", "exclusiveMinimum": f"not more than {rule}",
             "exclusiveMaximum": f"not less than {rule}"}
    return texts.get(keyword, f"does not satisfy {keyword}")


def _kind(value: Any, nouns: dict[str, str]) -> str:
    if value is None:
        return nouns["null"]
    if isinstance(value, bool):
        return "a boolean"
    for name, types in (("integer", int), ("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, types):
            return nouns[name]
    return f"a {type(value).__name__}"  # YAML's own types: a date, a set


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _short_key(key: Any) -> str:
    text = str(key)
    return text if len(text) <= 40 else text[:37] + "..."


def short_value(value: Any) -> str:
    """A bounded description of a value for an error message: never the whole value."""
    if isinstance(value, (dict, list)):
        return f"{'a mapping' if isinstance(value, dict) else 'a list'} of {len(value)} item(s)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**60:
        return "a number of more than 60 digits"
    text = repr(value[:61] if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."
