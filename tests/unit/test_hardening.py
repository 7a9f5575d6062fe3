"""Hostile input, every class of issue #10: the generated corpus, and the cases that need more than one run.

Each corpus case (``tests/support/corpus.py``) is a real ``npuslim`` process in
its own sandbox, judged on its exit code, one error line and no traceback, no
hang, and no write outside its output. The tests below it cover what a single
run cannot show: races, a mount point, memory bounds, the schema checker.

The pure half; the tests that build, run or download are in tests/integration/test_hardening.py.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support import corpus
from tests.support.crafted import build_pe

CASES = corpus.cases()


def test_the_corpus_covers_every_class_of_the_issue() -> None:
    classes = {c.klass for c in CASES}
    assert classes == {"outside", "corrupt PE", "unbounded", "hangs", "concurrency", "exit codes",
                       "bundle manifest"}
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


def test_force_keeps_files_npuslim_did_not_write(tmp_path: Path) -> None:
    s = corpus.base_sandbox(tmp_path / "box")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "precious.txt").write_text("mine")
    (out / "sub" / "notes.md").write_text("mine")
    result = run("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(out), "--force")
    assert result.exit_code == 7
    assert "not an npuslim bundle" in one_error_line(result)
    assert (out / "precious.txt").read_text() == "mine" and (out / "sub" / "notes.md").read_text() == "mine"


def test_a_mount_point_out_is_filled_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """rename(2) of a mount point fails with EBUSY: the bundle is then replaced inside it."""
    import npuslim.act.staging as bundle_mod

    s = corpus.base_sandbox(tmp_path / "box")
    out = tmp_path / "mnt"
    assert run("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(out)).exit_code == 0
    real_replace = os.replace

    def busy(src, dst, *a, **k):
        if Path(src) == out:
            raise OSError(errno.EBUSY, "Device or resource busy", str(src))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(bundle_mod.os, "replace", busy)
    result = run("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(out), "--force",
                 env={"SOURCE_DATE_EPOCH": "0"})
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "npuslim-bundle.json").read_text())["created"] == "1970-01-01T00:00:00Z"
    assert run("verify", str(out)).exit_code == 0
    assert not [p.name for p in tmp_path.iterdir() if ".npuslim-" in p.name]


def test_disk_full_while_writing_is_exit_7_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import npuslim.act.staging as bundle_mod

    s = corpus.base_sandbox(tmp_path / "box")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_mod, "to_json", full)
    result = run("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(tmp_path / "out"))
    assert result.exit_code == 7 and "No space left" in one_error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box"]


def test_the_wheel_cap_counts_every_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import npuslim.source.wheel as sources

    monkeypatch.setattr(sources, "MAX_UNPACKED_BYTES", 4000)
    # a cache of this test's own: a run sharing the test cache may hold an unpack of a wheel of this name
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    s = corpus.base_sandbox(tmp_path / "box")
    wheel = corpus._crafted_wheel(s, extra={f"openvino/include/h{i}.h": os.urandom(1000) for i in range(5)})
    result = run("deps", str(wheel), "--root", "a.dll")
    assert result.exit_code == 4 and "unpacks to" in one_error_line(result)
    assert not list((Path(os.environ["NPUSLIM_CACHE_DIR"]) / "wheels").glob(f"{wheel.stem}-*"))


def test_deep_chains_keep_json_linear(tmp_path: Path) -> None:
    from npuslim.analyse.graph import CHAIN_MAX

    for i in range(200):
        (tmp_path / f"n{i}.dll").write_bytes(build_pe((f"n{i + 1}.dll",) if i < 199 else ("KERNEL32.dll",)))
    result = run("deps", str(tmp_path / "n0.dll"), "-f", "json", "--no-hints")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    chains = [n["chain"] for n in doc["nodes"]]
    assert max(len(c) for c in chains) == CHAIN_MAX
    last = chains[-2]
    assert last[0] == "n0.dll" and last[-1] == "n199.dll" and "..." in last


def _lock_variants(tmp_path: Path) -> list[object]:
    s = corpus.base_sandbox(tmp_path / "box")
    bundle = corpus._bundle(s)
    good = json.loads((bundle / "npuslim-bundle.json").read_text())
    variants: list[object] = [good, [], "x", None, 1, {}, {"schema": "npuslim.bundle"}]
    for key in good:
        for value in (None, 1, 1.5, "x", [], {}, [1], True):
            variants.append({**good, key: value})
    for key in good["files"][0]:
        for value in (None, -1, 1.0, "x", [], {}, True, "0" * 64):
            variants.append({**good, "files": [{**good["files"][0], key: value}]})
    return variants


# What a lock file may hold, written out (not asked of a validator): of the probe values
# _lock_variants puts in each field, the ones a reader must accept (JSON text: 1.0 is not true).
_TOP_ACCEPTS = {"tool_version": {'"x"'}, "created": {'"x"'}, "files": {"[]"}, "requirements": {"[]"},
                "headers": {"null"}, "features_requested": {"null"}}  # budget: a whole budget document or null
_ANY_TEXT = {'"x"', '"' + "0" * 64 + '"'}
_FILE_ACCEPTS = {"path": _ANY_TEXT, "size": {"1.0"}, "sha256": {'"' + "0" * 64 + '"'}, "reason": _ANY_TEXT,
                 "chain": {"[]"}, "feature": _ANY_TEXT, "machine": _ANY_TEXT | {"null"}, "file_version": _ANY_TEXT,
                 "signature": {"null"}, "cfg": {"null", "true"}, "debug_directory": {"null", "true"},
                 "link_to": _ANY_TEXT}


def _mutation(doc: object, good: dict) -> tuple[str, object] | None:
    """(the field changed, its new value) of a variant; ``None`` for the good document itself."""
    if not isinstance(doc, dict) or set(doc) != set(good):
        return "top level", doc
    changed = [k for k in doc if json.dumps(doc[k]) != json.dumps(good[k])]
    if not changed:
        return None
    (key,) = changed
    if key == "files" and isinstance(doc["files"], list) and len(doc["files"]) == 1 \
            and isinstance(doc["files"][0], dict):
        subs = [k for k in doc["files"][0] if json.dumps(doc["files"][0][k]) != json.dumps(good["files"][0][k])]
        if not subs:
            return None  # the good first file alone
        (sub,) = subs
        return f"files[0].{sub}", doc["files"][0][sub]
    return key, doc[key]


def _accepted(field: str, value: object) -> bool:
    text = json.dumps(value)
    if field.startswith("files[0]."):
        return text in _FILE_ACCEPTS.get(field.removeprefix("files[0]."), set())
    return text in _TOP_ACCEPTS.get(field, set())


def test_every_malformed_lock_is_refused_on_one_line_naming_its_field(tmp_path: Path) -> None:
    """read_lock (what verify, pack and diff load a bundle with) on every variant of a real lock file: a
    document it accepts comes back field for field, one it refuses is a VerifyError naming the field."""
    from npuslim.errors import VerifyError
    from npuslim.formats.lock import read_lock, to_json

    variants = _lock_variants(tmp_path)
    good = variants[0]
    assert isinstance(good, dict) and len(variants) > 150
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    lock = bundle / "npuslim-bundle.json"
    refused = 0
    for doc in variants:
        lock.write_text(json.dumps(doc))
        mutation = _mutation(doc, good)
        if mutation is None or _accepted(*mutation):
            assert json.loads(to_json(read_lock(bundle, lock.name))) == doc, mutation
            continue
        field, _value = mutation
        with pytest.raises(VerifyError) as err:
            read_lock(bundle, lock.name)
        assert str(err.value).startswith(f"{lock}: ")
        message = str(err.value).removeprefix(f"{lock}: ")
        refused += 1
        assert "\n" not in message and len(message) < 200, message
        if field == "top level" or (field in ("schema", "schema_version") and "malformed" not in message):
            assert message == "not a lock file of schema version 1", (field, message)
        else:  # schema_version true passes the first look (true == 1 in Python), not the schema
            assert message.startswith(f"malformed lock file: {field}"), (field, message)
    assert refused > 150


def _violations(schema: dict) -> list[tuple[dict, object, str]]:
    """(a one-keyword schema, a document breaking it, the message npuslim must give) for each validating
    keyword of ``schema``; an AssertionError for a keyword npuslim.schema_check has no message for."""
    from npuslim.schema_check import NON_BLANK

    out: list[tuple[dict, object, str]] = []
    for key, rule in schema.items():
        if key in ("$schema", "$id", "title", "description", "$ref", "$defs", "properties", "items", "default"):
            continue  # annotations, or structure whose own keywords are walked by the caller
        if key == "type":
            allowed = {rule} if isinstance(rule, str) else set(rule)
            samples = {"null": None, "boolean": True, "integer": 7, "number": 1.5, "string": "s", "array": [],
                       "object": {}}
            doc = next(v for k, v in samples.items() if k not in allowed and not (k == "integer" and "number" in allowed))
            out.append(({"type": rule}, doc, "top level: expected "))
        elif key == "required":
            out.append(({"required": rule}, {}, f"{rule[0]}: missing"))
        elif key == "additionalProperties" and rule is False:
            out.append(({"properties": schema.get("properties", {}), "additionalProperties": False},
                        {"zz-unknown": 1}, "top level: unknown field(s): zz-unknown"))
        elif key == "additionalProperties":
            assert isinstance(rule, dict), rule  # a schema: walked by the caller
        elif key == "enum":
            out.append(({"enum": rule}, "\0none", "top level: expected one of " + ", ".join(
                e if isinstance(e, str) else json.dumps(e) for e in rule)))
        elif key == "const":
            out.append(({"const": rule}, "\0other", f"top level: expected {rule}, found '\\x00other'"))
        elif key == "minimum":
            out.append(({"minimum": rule}, rule - 1, f"top level: less than {rule}"))
        elif key == "maximum":
            out.append(({"maximum": rule}, rule + 1, f"top level: more than {rule}"))
        elif key == "minItems":
            out.append(({"minItems": rule}, [], "top level: expected a non-empty list" if rule == 1
                        else f"top level: fewer than {rule} items"))
        elif key == "maxItems":
            out.append(({"maxItems": rule}, [0] * (rule + 1), f"top level: more than {rule} items"))
        elif key == "pattern":
            out.append(({"pattern": rule}, "" if rule == NON_BLANK else "\0",
                        "top level: expected a non-empty string" if rule == NON_BLANK
                        else f"top level: does not match {rule}"))
        else:
            raise AssertionError(f"keyword {key!r} has no message of its own in npuslim.schema_check")
    return out


def _subschemas(schema: object) -> list[dict]:
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            found += _subschemas(sub)
    for key in ("items", "additionalProperties"):
        found += _subschemas(schema.get(key))
    return found


def test_every_keyword_of_the_shipped_schemas_has_its_own_message() -> None:
    """Each rule a shipped schema states, broken alone, is reported as npuslim words it (never the
    fallback "does not satisfy KEYWORD"); a keyword added without a message fails here."""
    from npuslim.schema_check import SCHEMAS, first_error, load_schema

    names = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json"))
    assert {"bundle", "deps", "verify", "size-report", "manifest", "windows-facts"} <= set(names)
    checked = 0
    for name in names:
        for sub in _subschemas(load_schema(name)):
            for one, doc, expected in _violations(sub):
                message = first_error(doc, one)
                assert message is not None and message.startswith(expected), (name, one, message)
                assert "does not satisfy" not in message
                checked += 1
    assert checked > 500
