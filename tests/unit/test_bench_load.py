"""benchmarks/bench_load.py: its parser on captured timer output, and its short mode
end to end (full wheel vs bundle vs UPX-packed bundle, under Wine), as CI runs it.

The pure half; the tests that build, run or download are in tests/integration/test_bench_load.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_load", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_timer_output_is_parsed() -> None:
    bench = _bench()
    run = bench.parse_timer_output("T load_c_api 0.034\nT core_create 0.001\nT read_model 0.015\n"
                                   "T load_plugin 0.0152\nM 30113792 37412864\n", 2.1, 1000)
    assert run.steps == {"load_c_api": 0.034, "core_create": 0.001, "read_model": 0.015, "load_plugin": 0.0152}
    assert (run.peak_private, run.peak_working_set, run.failed) == (30113792, 37412864, "")


def test_a_failed_or_silent_timer_is_a_failure() -> None:
    bench = _bench()
    failed = bench.parse_timer_output("T load_c_api 0.03\nFAIL load_plugin cannot find the NPU plugin\n", 1.0, 0)
    assert failed.failed == "load_plugin: cannot find the NPU plugin"
    silent = bench.parse_timer_output("wine: could not load kernel32.dll\n", 1.0, 0)
    assert silent.failed.startswith("the timer stopped early: wine: could not load")
