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

    def busy(src, dst, *a, **k):  # noqa: ANN001
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

    def full(*_a, **_k):  # noqa: ANN002, ANN003
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_mod, "to_json", full)
    result = run("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(tmp_path / "out"))
    assert result.exit_code == 7 and "No space left" in one_error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box"]


def test_the_wheel_cap_counts_every_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import npuslim.source.wheel as sources

    monkeypatch.setattr(sources, "MAX_UNPACKED_BYTES", 4000)
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


def test_the_schema_checker_agrees_with_jsonschema(tmp_path: Path) -> None:
    import jsonschema  # a test dependency (pyproject test extra): missing is a failure, never a skip

    from npuslim.schema_check import first_error, load_schema

    schema = load_schema("bundle")
    validator = jsonschema.Draft202012Validator(schema)
    variants = _lock_variants(tmp_path)
    assert len(variants) > 150
    for doc in variants:
        ours = first_error(doc, schema)
        theirs = validator.is_valid(doc)
        assert (ours is None) == theirs, (doc, ours)


def test_every_shipped_schema_uses_only_checked_keywords() -> None:
    from npuslim.schema_check import load_schema

    for name in ("bundle", "deps", "verify", "size-report"):
        load_schema(name)
