"""``verify --load`` for Linux bundles: the native probe built with gcc, on the manylinux wheels.

The pure half; the tests that build, run or download are in tests/integration/test_linux_load.py.
"""

from __future__ import annotations

from npuslim.check.load_linux import judge_linux, parse_dlerror_missing
from npuslim.check.loading import LoadStep


def test_dlerror_names_the_missing_library() -> None:
    text = "STEP load_c_api FAIL libtbb.so.12: cannot open shared object file: No such file or directory"
    assert parse_dlerror_missing(text) == ("libtbb.so.12",)
    assert parse_dlerror_missing("STEP load_c_api FAIL /x/lib/libopenvino_c.so.2641: invalid ELF header") == ()


def test_judge_no_device_is_a_pass_and_a_missing_library_is_not() -> None:
    steps = tuple(LoadStep(n, True, "") for n in ("load_c_api", "version", "core_create", "read_model", "plugin"))
    libs = {"libopenvino_intel_npu_plugin.so", "libopenvino_ir_frontend.so.2641"}
    ok, verdict = judge_linux((*steps, LoadStep("devices", False, "NPU devices: []"), LoadStep("device", False, "status -1")), (), libs, "libopenvino_c.so.2641", "NPU")
    assert ok and "found no NPU device" in verdict
    ok, verdict = judge_linux((LoadStep("load_c_api", False, "libtbb.so.12: cannot open shared object file"),),
                              (("libtbb.so.12", "libopenvino.so.2641"),), libs, "libopenvino_c.so.2641", "NPU")
    assert not ok and verdict == ("libopenvino_c.so.2641 did not load: libtbb.so.12 not found "
                                  "(needed by libopenvino.so.2641)")
    ok, verdict = judge_linux((*steps, LoadStep("device", True, ""), LoadStep("infer", False, "wrong")), (), libs,
                              "libopenvino_c.so.2641", "CPU")
    assert not ok and "inference failed" in verdict
