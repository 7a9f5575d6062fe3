"""The str enums of the core: every value is the string the JSON outputs always carried.

A ``StrEnum`` member is a ``str``; json.dumps writes its value, an f-string
formats its value, and it compares and hashes equal to the plain string, so
lock files written before the enums (read back as plain strings) still match.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npuslim.act.pack import PackStatus
from npuslim.act.steps import Shrink
from npuslim.act.upx import UpxStatus
from npuslim.analyse.graph import Edge, Node, Via
from npuslim.analyse.resolve import CLASSES, DepClass
from npuslim.formats.binary import Signature
from npuslim.formats.lock import (
    BundleLock,
    LockedFile,
    ManifestRecord,
    PackRecord,
    SourceRecord,
    Totals,
    from_dict,
    to_json,
)
from npuslim.layout import Role
from npuslim.report.graph_formats import node_dict

# the strings each domain value was written as before it became an enum
OLD = {
    DepClass: ["bundled", "msvc-runtime", "api-set", "system", "driver", "python", "missing"],
    Via: ["root", "import", "delay-import", "runtime", "forward"],
    Signature: ["signed", "none", "dangling"],
    UpxStatus: ["packed", "refused", "already-packed", "not-packed", "unknown-format", "corrupt", "failed",
                "timed-out", "stopped"],
    PackStatus: ["packed", "skipped", "refused", "failed", "not requested"],
    Shrink: ["stripped", "packed", "kept", "refused", "timed-out", "stopped", "failed"],
    Role: ["root", "import", "runtime-companion", "msvc-runtime", "header", "import-library", "license"],
}


@pytest.mark.parametrize("enum", list(OLD), ids=lambda e: e.__name__)
def test_every_member_is_its_old_string_in_json_text_and_comparisons(enum) -> None:
    assert [m.value for m in enum] == OLD[enum]
    for member, old in zip(enum, OLD[enum], strict=True):
        assert json.dumps(member) == json.dumps(old)
        assert json.dumps({"k": member}) == json.dumps({"k": old})
        assert json.dumps({member: 1}, sort_keys=True) == json.dumps({old: 1}, sort_keys=True)  # as a key
        assert f"{member}" == str(member) == old and f"{member:>20}" == f"{old:>20}"
        assert member == old and hash(member) == hash(old) and {old: 1}[member] == 1
        assert enum(old) is member


def test_the_dependency_classes_keep_their_order() -> None:
    assert [str(c) for c in CLASSES] == OLD[DepClass]


def test_a_graph_node_serialises_exactly_as_with_plain_strings() -> None:
    def node(dep_class, via) -> Node:
        return Node("a.dll", dep_class, Path("/x/a.dll"), None, via, ("r.dll", "a.dll"), ("r.dll",), "why")

    with_enums = node_dict(node(DepClass.MISSING, Via.DELAY_IMPORT))
    with_strings = node_dict(node("missing", "delay-import"))  # type: ignore[arg-type]
    assert json.dumps(with_enums, indent=2) == json.dumps(with_strings, indent=2)
    assert json.dumps(Edge("a", "b", Via.RUNTIME).__dict__) == '{"source": "a", "target": "b", "kind": "runtime"}'


def test_a_lock_file_with_enums_is_the_same_text_and_reads_back_equal() -> None:
    def lock(role, signature, upx) -> BundleLock:
        record = PackRecord(original_size=10, original_sha256="0" * 64, original_signature=signature, upx=upx,
                            upx_skipped="why")
        f = LockedFile("bin/a.dll", role, 5, "1" * 64, "because", ("a.dll",), signature=signature, pack=record)
        return BundleLock(tool_version="1", created="2026-01-01T00:00:00Z",
                          source=SourceRecord("o", "wheel", "r", None), manifest=ManifestRecord("npu", "npu.yaml", "2" * 64),
                          features=(), files=(f,), requirements=(), missing=(), headers=None, warnings=(),
                          totals=Totals(1, 5))

    text = to_json(lock(Role.ROOT, Signature.DANGLING, PackStatus.REFUSED))
    assert text == to_json(lock("root", "dangling", "refused"))
    back = from_dict(json.loads(text)).files[0]
    assert back.signature == Signature.DANGLING and back.pack is not None and back.pack.upx == PackStatus.REFUSED
