"""npuslim-wheel.json against npuslim/schemas/wheel.schema.json: the document ``npuslim wheel`` writes
(run in-process on a wheel of crafted PE files) is valid, and each way of breaking it is refused
in one line naming the field."""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from npuslim.plan.wheel import LOCK_NAME
from npuslim.schema_check import first_error, load_schema
from tests.cli_helpers import run
from tests.support import corpus
from tests.support.crafted import build_pe

OFFICIAL = "openvino-2099.1.0-1-cp311-cp311-win_amd64.whl"
INFO = "openvino-2099.1.0.dist-info"
DROPPED_REASON = load_schema("wheel")["properties"]["dropped"]["items"]["properties"]["reason"]["pattern"]
MEMBER = load_schema("wheel")["$defs"]["member"]["pattern"]


def _official_wheel(box: Path) -> Path:
    """An openvino wheel in miniature: two roots' worth of DLLs (the test manifest's root a.dll ->
    b.dll), one DLL nothing needs, the extension module, an ONNX frontend package imported by
    ``openvino/__init__.py`` inside a try, a header and a dist-info."""
    return corpus._wheel(box / OFFICIAL, {
        "openvino/__init__.py": b"try:\n    from openvino.frontend.onnx import x\nexcept ImportError:\n    pass\n",
        "openvino/frontend/__init__.py": b"",
        "openvino/frontend/onnx/__init__.py": b"x = 1\n",
        "openvino/frontend/onnx/py_onnx_frontend.cp311-win_amd64.pyd": build_pe(("c.dll",)),
        "openvino/_pyopenvino.cp311-win_amd64.pyd": build_pe(("b.dll", "python311.dll", "KERNEL32.dll")),
        "openvino/include/a.h": b"int a;\n",
        "openvino/libs/a.dll": build_pe(("b.dll",)),
        "openvino/libs/b.dll": build_pe(("KERNEL32.dll",)),
        "openvino/libs/c.dll": build_pe(("KERNEL32.dll",)),
        "openvino/libs/d.dll": build_pe(("KERNEL32.dll",)),
        f"{INFO}/METADATA": b"Metadata-Version: 2.1\nName: openvino\nVersion: 2099.1.0\n",
        f"{INFO}/WHEEL": b"Wheel-Version: 1.0\nTag: cp311-cp311-win_amd64\n",
        f"{INFO}/RECORD": b"",
    })


def _written(tmp_path: Path, *extra: str) -> dict:
    """The npuslim-wheel.json of the slim wheel ``npuslim wheel`` writes from the miniature."""
    s = corpus.base_sandbox(tmp_path / "box")
    dist = tmp_path / "dist"
    result = run("wheel", str(_official_wheel(s["box"])), "-o", str(dist), "-m", str(s["manifest"]), *extra,
                 env={"NPUSLIM_CACHE_DIR": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.stderr
    (slim,) = dist.glob("*.whl")
    with zipfile.ZipFile(slim) as zf:
        (name,) = (n for n in zf.namelist() if n.endswith(f".dist-info/{LOCK_NAME}"))
        return json.loads(zf.read(name))


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _written(tmp_path_factory.mktemp("wheel-schema"))


def test_the_written_document_is_valid_and_holds_every_kind_of_entry(document: dict) -> None:
    assert first_error(document, load_schema("wheel")) is None
    assert list(document)[:2] == ["schema", "schema_version"]
    assert (document["schema"], document["schema_version"]) == ("npuslim.wheel", 1)
    assert {b["name"] for b in document["binaries"]} == {
        "openvino/_pyopenvino.cp311-win_amd64.pyd", "openvino/libs/a.dll", "openvino/libs/b.dll"}
    # each of the three reasons a member is dropped, so the schema's closed vocabulary is the code's
    assert {d["reason"] for d in document["dropped"]} == {
        "not in the closure of the kept roots", "C/C++ development file (headers, CMake config)",
        "Python frontend onnx not selected (--with onnx)"}
    assert document["eager_imports"] == [{"chain": ["openvino", "openvino.frontend.onnx"], "guarded": True}]


def test_with_a_frontend_and_a_feature_the_document_is_valid_too(tmp_path: Path) -> None:
    kept = _written(tmp_path, "--with", "onnx", "--with", "extra")
    assert first_error(kept, load_schema("wheel")) is None
    assert kept["features"] == ["extra", "onnx"] and kept["version"] == "2099.1.0+test.extra.onnx"
    assert kept["eager_imports"] == [] and not any(d["reason"].startswith("Python") for d in kept["dropped"])
    assert "openvino/frontend/onnx/py_onnx_frontend.cp311-win_amd64.pyd" in {b["name"] for b in kept["binaries"]}


def _drop(key: str) -> Callable[[dict], None]:
    return lambda d: d.pop(key)


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        target = d
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return mutate


MUTATIONS = [
    ("missing-field", _drop("binaries"), "binaries: missing"),
    ("missing-nested-field", lambda d: d["dropped"][0].pop("reason"), "dropped[0].reason: missing"),
    ("wrong-type", _set(("binaries", 0, "size"), "1024"), "binaries[0].size: expected an integer, found a string"),
    ("wrong-type-list", _set(("features",), "ir"), "features: expected an array, found a string"),
    ("negative-size", _set(("dropped", 0, "size"), -1), "dropped[0].size: less than 0"),
    ("unknown-field", _set(("sha256",), "0" * 64), "top level: unknown field(s): sha256"),
    ("unknown-nested-field", _set(("binaries", 1, "feature"), None), "binaries[1]: unknown field(s): feature"),
    ("unknown-reason", _set(("dropped", 0, "reason"), "too big"), f"dropped[0].reason: does not match {DROPPED_REASON}"),
    ("unguarded-import", _set(("eager_imports", 0, "guarded"), False),
     "eager_imports[0].guarded: expected one of true"),
    ("other-schema", _set(("schema",), "npuslim.bundle"), "schema: expected npuslim.wheel, found 'npuslim.bundle'"),
    ("other-version", _set(("schema_version",), 2), "schema_version: expected 1, found 2"),
    ("not-a-wheel-name", _set(("wheel",), "openvino.zip"), "wheel: does not match \\.whl$"),
    ("no-local-label", _set(("version",), "2099.1.0"), "version: does not match ^[^+]+\\+[^+]+$"),
    ("absolute-member", _set(("dropped", 1, "name"), "/etc/passwd"), f"dropped[1].name: does not match {MEMBER}"),
    ("control-character", _set(("binaries", 0, "name"), "openvino/libs/\x01.dll"),
     f"binaries[0].name: does not match {MEMBER}"),
    ("empty-chain", _set(("binaries", 2, "chain"), []), "binaries[2].chain: expected a non-empty list"),
    ("long-chain", _set(("binaries", 2, "chain"), ["x.dll"] * 17), "binaries[2].chain: more than 16 items"),
]


@pytest.mark.parametrize(("mutate", "message"), [(m, e) for _n, m, e in MUTATIONS], ids=[n for n, _m, _e in MUTATIONS])
def test_each_mutation_is_refused_in_one_line(document: dict, mutate: Callable[[dict], None], message: str) -> None:
    broken = copy.deepcopy(document)
    mutate(broken)
    error = first_error(broken, load_schema("wheel"))
    assert error == message
    assert "\n" not in error
