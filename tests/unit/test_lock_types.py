"""The lock file read through typed records: the same text back, and the schemas in step."""

from __future__ import annotations

import json
from pathlib import Path

from npuslim.formats.lock import (
    BudgetRecord,
    BundleLock,
    PackedRecord,
    SourceRecord,
    TargetRequirement,
    from_dict,
    to_json,
)
from npuslim.platforms import Platform
from npuslim.schema_check import first_error, load_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "npuslim" / "schemas"

FULL = {
    "schema": "npuslim.bundle", "schema_version": 1, "tool_version": "0.1.0", "created": "2026-12-03T00:00:00Z",
    "source": {"origin": "openvino==2026.4.1", "layout": "wheel", "root": "openvino-2026.4.1-x.whl",
               "openvino_version": "2026.4.1.22982", "platform": "linux",
               "wheel": {"name": "openvino-2026.4.1-x.whl", "sha256": "a" * 64},
               "size": 123, "size_measured_as": "uncompressed size of openvino-2026.4.1-x.whl",
               "onnxruntime": {"origin": "onnxruntime-openvino==1.24.1", "onnxruntime_version": "1.24.1",
                               "dll_dir": "onnxruntime/capi", "built_against_openvino": None}},
    "manifest": {"name": "npu-linux", "path": "npu-linux.yaml", "sha256": "b" * 64},
    "features": ["c-api", "ir"],
    "files": [{"path": "lib/libopenvino.so.2641", "role": "import", "size": 5, "sha256": "c" * 64,
               "reason": "r", "chain": ["a", "b"], "feature": None, "machine": "x86_64", "file_version": None,
               "signature": None, "cfg": None, "debug_directory": None, "pack": None, "link_to": None}],
    "requirements": [{"kind": "glibc", "name": "glibc 2.28 or later", "dlls": ["libc.so.6"], "note": "n"}],
    "missing": [{"name": "libgone.so", "required_by": ["lib/libopenvino.so.2641"]}],
    "headers": {"kept": 1, "total": 2}, "warnings": ["w"], "totals": {"files": 1, "bytes": 5},
    "packed": {"tool_version": "0.1.0", "input": {"path": "npu", "manifest_sha256": "d" * 64},
               "options": {"strip": True, "upx": False, "upx_level": "default", "upx_force_cfg": False,
                           "upx_exclude": ["*tbb*"], "archive": "tar.xz", "compare_download": False},
               "upx": None},
    "features_requested": ["c-api", "ir"], "features_dropped": [{"name": "x", "reason": "y"}],
    "budget": {"schema": "npuslim.budget", "schema_version": 1, "limit": 40000000, "limit_text": "40MB",
               "origin": "--max-size", "verdict": "within",
               "subjects": [{"name": "bundle", "path": None, "size": 5, "files": 1, "measured_as": "m",
                             "verdict": "within", "over_by": 0,
                             "largest": [{"path": "lib/libopenvino.so.2641", "size": 5, "share": 1.0}]}]},
}


def test_every_field_reads_typed_and_writes_back_the_same_text() -> None:
    assert first_error(FULL, load_schema("bundle")) is None
    lock = from_dict(json.loads(json.dumps(FULL)))
    assert isinstance(lock, BundleLock) and isinstance(lock.source, SourceRecord)
    assert lock.platform is Platform.LINUX and lock.source.wheel is not None and lock.source.onnxruntime is not None
    assert isinstance(lock.requirements[0], TargetRequirement) and lock.requirements[0].dlls == ("libc.so.6",)
    assert isinstance(lock.packed, PackedRecord) and lock.packed.options.upx_exclude == ("*tbb*",)
    assert isinstance(lock.budget, BudgetRecord) and lock.budget.subjects[0].largest[0].share == 1.0
    assert to_json(lock) == json.dumps(FULL, indent=2) + "\n"


def test_optional_parts_stay_out_of_the_text_when_absent() -> None:
    data = json.loads(json.dumps(FULL))
    for key in ("wheel", "onnxruntime"):
        del data["source"][key]
    data["packed"] = data["budget"] = data["headers"] = None
    lock = from_dict(data)
    assert lock.source.wheel is None and lock.packed is None and lock.budget is None
    assert to_json(lock) == json.dumps(data, indent=2) + "\n"


def test_a_lock_without_a_platform_is_a_windows_one() -> None:
    data = json.loads(json.dumps(FULL))
    del data["source"]["platform"]
    assert from_dict(data).platform is Platform.WINDOWS


def test_the_lock_files_budget_is_the_budget_schema() -> None:
    """bundle.schema.json carries the budget document's schema inline; the two never drift apart."""
    budget = json.loads((SCHEMAS / "budget.schema.json").read_text())
    bundle = json.loads((SCHEMAS / "bundle.schema.json").read_text())
    inline = dict(bundle["$defs"]["budget"])
    assert inline.pop("type") == ["object", "null"]  # null: no budget was checked
    assert inline == {k: v for k, v in budget.items() if k not in ("$schema", "$id", "title", "type")}
    partial = json.loads(json.dumps(FULL))
    partial["budget"] = {"limit": 1, "limit_text": "1B", "origin": "x"}
    assert first_error(partial, load_schema("bundle")) is not None
