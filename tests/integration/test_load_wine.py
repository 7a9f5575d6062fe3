"""The bundle through the Windows loader (Wine): ``verify --load``, the MSVC runtime,
and the C example built against the bundle."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from npuslim.check.load import load_bundle
from npuslim.check.load_windows import find_runner
from tests.cli_helpers import run
from tests.support.tools import require_tool, unavailable

pytestmark = [pytest.mark.wine, pytest.mark.wheels]

REPO = Path(__file__).resolve().parents[2]
MODEL = (
    '<?xml version="1.0"?><net name="m" version="11"><layers>'
    '<layer id="0" name="input" type="Parameter" version="opset1"><data shape="1,4" element_type="f32"/>'
    '<output><port id="0" precision="FP32"><dim>1</dim><dim>4</dim></port></output></layer>'
    '<layer id="1" name="relu" type="Relu" version="opset1">'
    '<input><port id="0" precision="FP32"><dim>1</dim><dim>4</dim></port></input>'
    '<output><port id="1" precision="FP32"><dim>1</dim><dim>4</dim></port></output></layer>'
    '<layer id="2" name="output" type="Result" version="opset1">'
    '<input><port id="0" precision="FP32"><dim>1</dim><dim>4</dim></port></input></layer></layers>'
    '<edges><edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>'
    '<edge from-layer="1" from-port="1" to-layer="2" to-port="0"/></edges></net>'
)


@pytest.fixture(scope="module")
def wine() -> list[str]:
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    try:
        _, prefix = find_runner()
    except Exception as exc:
        unavailable(str(exc))
    return prefix


@pytest.fixture(scope="module")
def bundle(ov2026, wine, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("load") / "npu-bundle"
    assert run("extract", str(ov2026.root), "-o", str(out)).exit_code == 0
    return out


def copy_without(bundle: Path, tmp_path: Path, name: str | None) -> Path:
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    if name:
        (copy / "bin" / name).unlink()
    return copy


def test_the_default_bundle_loads_up_to_the_missing_npu(bundle: Path) -> None:
    result = run("verify", str(bundle), "--load", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    import jsonschema

    jsonschema.validate(json.loads(result.stdout),
                        json.loads((REPO / "npuslim" / "schemas" / "verify.schema.json").read_text()))
    load = json.loads(result.stdout)["load"]
    steps = {s["name"]: s for s in load["steps"]}
    for name in ("load_c_api", "version", "core_create", "read_model", "plugin"):
        assert steps[name]["ok"], steps[name]
    assert steps["version"]["detail"].startswith("2026.4.1-22982")
    assert "openvino_intel_npu_plugin" in steps["plugin"]["detail"]
    assert not steps["devices"]["ok"] and "found no NPU device" in load["verdict"]
    text = run("verify", str(bundle), "--load")
    assert "ov_core_create" in text.stdout and "IR model read" in text.stdout


@pytest.mark.parametrize(('removed', 'expected'), [
    ("tbb12.dll", "tbb12.dll not found (needed by openvino.dll)"),
    ("openvino_intel_npu_plugin.dll", "NPU device is not registered"),
    ("openvino_ir_frontend.dll", "openvino_ir_frontend.dll is not in the bundle"),
])
def test_negative_controls_fail_with_the_right_name(bundle: Path, tmp_path: Path, removed: str,
                                                   expected: str) -> None:
    result = load_bundle(copy_without(bundle, tmp_path, removed))
    assert not result.ok
    assert expected in result.verdict


def test_bundled_runtime_check_fails_without_the_runtime(bundle: Path) -> None:
    result = run("verify", str(bundle), "--load", "--msvc-runtime-from", "bundled")
    assert result.exit_code == 8
    assert "MSVCP140.dll not found" in result.stdout


def test_shipping_the_runtime_from_the_msvc_runtime_wheel(ov2026, wine, msvc_runtime_dir: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "with-runtime"
    result = run("extract", str(ov2026.root), "-o", str(out), "--msvc-runtime", str(msvc_runtime_dir))
    assert result.exit_code == 0, result.stderr
    lock = json.loads((out / "npuslim-bundle.json").read_text())
    shipped = {f["path"]: f for f in lock["files"] if f["role"] == "msvc-runtime"}
    assert set(shipped) == {"bin/msvcp140.dll", "bin/vcruntime140.dll", "bin/vcruntime140_1.dll"}
    assert all(f["file_version"] and f["file_version"].startswith("14.") for f in shipped.values())
    assert "msvc-runtime" not in {r["kind"] for r in lock["requirements"]}
    loaded = run("verify", str(out), "--load", "--msvc-runtime-from", "bundled", "--format", "json")
    assert loaded.exit_code == 0, loaded.stdout
    assert json.loads(loaded.stdout)["load"]["ok"]


def test_the_c_example_builds_against_the_bundle_and_reaches_the_npu(bundle: Path, wine: list[str],
                                                                     tmp_path: Path) -> None:
    gcc = require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    app = tmp_path / "app"
    shutil.copytree(bundle / "bin", app)
    build = subprocess.run([gcc, "-std=c99", "-Wall", "-Werror", "-O2", "-I", str(bundle / "include"),
                            str(REPO / "examples" / "c-api-npu" / "main.c"), str(bundle / "lib" / "openvino_c.lib"),
                            "-o", str(app / "c-api-npu.exe")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (app / "model.xml").write_text(MODEL)
    from npuslim.source.locate import cache_dir

    env = {"WINEPREFIX": str(cache_dir() / "wine-prefix"), "WINEDEBUG": "-all", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    proc = subprocess.run([*wine, "c-api-npu.exe", "model.xml", "NPU"], cwd=app, env=env, capture_output=True,
                          text=True, timeout=600)
    assert "OpenVINO 2026.4.1" in proc.stdout and "model read: model.xml" in proc.stdout
    assert proc.returncode == 5, proc.stdout + proc.stderr  # compile_model: the NPU plugin's own error
    assert "compile_model failed" in proc.stderr and "intel_npu" in proc.stderr


@pytest.fixture(scope="module")
def bundle2024_0(ov2024_0, wine, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("load2024") / "npu-bundle"
    result = run("extract", str(ov2024_0.root), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def test_a_bundle_without_the_c_api_loads_every_dll_and_says_what_was_not_checked(bundle2024_0: Path) -> None:
    result = run("verify", str(bundle2024_0), "--load", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    load = json.loads(result.stdout)["load"]
    jsonschema_validate_verify(json.loads(result.stdout))
    steps = {s["name"]: s for s in load["steps"]}
    # the 2024.0 NPU plugin imports ze_loader.dll statically: a stub of the driver's stands in
    assert steps["preload:ze_loader.dll"]["ok"]
    assert {n for n in steps if n.startswith("load:")} == {
        "load:openvino.dll", "load:tbb12.dll", "load:openvino_intel_npu_plugin.dll", "load:openvino_ir_frontend.dll"}
    assert all(s["ok"] for s in steps.values())
    assert "ze_loader.dll stood in for by a stub" in load["verdict"] and "not checked" in load["verdict"]
    # the stub never enters the bundle
    assert not (bundle2024_0 / "bin" / "ze_loader.dll").exists()


def test_without_the_c_api_a_missing_dll_still_fails_by_name(bundle2024_0: Path, tmp_path: Path) -> None:
    result = load_bundle(copy_without(bundle2024_0, tmp_path, "tbb12.dll"))
    assert not result.ok
    assert "tbb12.dll not found (needed by openvino.dll)" in result.verdict


def jsonschema_validate_verify(data: dict) -> None:
    import jsonschema

    jsonschema.validate(data, json.loads((REPO / "npuslim" / "schemas" / "verify.schema.json").read_text()))


def test_a_bundle_path_with_any_characters_loads(bundle: Path, tmp_path: Path) -> None:
    # mingw's argv is in the ANSI code page: the probes read their arguments as UTF-16
    odd = tmp_path / "bündel ✓"
    shutil.copytree(bundle, odd)
    result = load_bundle(odd)
    assert result.ok, result.verdict


def _interrupt_wine_set_up(bundle: Path, cache: Path, *, after: float, sandbox: str = "auto") -> tuple[int, str]:
    """Start a first ``verify --load`` on an empty ``cache``, type Ctrl-C (to its process group, as a
    terminal does) ``after`` seconds into Wine's set-up, and return its exit code and stderr."""
    first = subprocess.Popen([sys.executable, "-m", "npuslim", "verify", str(bundle), "--load", "--sandbox", sandbox],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             env=dict(os.environ, NPUSLIM_CACHE_DIR=str(cache)))
    try:
        while first.poll() is None and not list(cache.glob(".wine-prefix.setup-*")):
            time.sleep(0.05)
        assert first.poll() is None, "verify --load ended, and no Wine prefix was set up under a name of its own"
        time.sleep(after)
        os.killpg(first.pid, signal.SIGINT)
        said = first.communicate()[1]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    return first.returncode, said


def test_an_interrupted_wine_set_up_is_made_again_and_so_is_a_prefix_left_half_made(
        bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while Wine sets its prefix up leaves no prefix behind (it is made under a name of the
    run's own), and a prefix without its registry (what an older npuslim left: Wine then counted it
    as made and every load failed with ``msvcrt.dll not found``) is made again."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(cache))
    code, said = _interrupt_wine_set_up(bundle, cache, after=1)  # Wine is busy setting the prefix up
    assert code == 130 and said.strip().endswith("npuslim: error: interrupted"), said
    assert not (cache / "wine-prefix").exists() and not list(cache.glob(".wine-prefix.setup-*"))

    again = run("verify", str(bundle), "--load")
    assert again.exit_code == 0, again.stdout + again.stderr
    (cache / "wine-prefix" / "system.reg").unlink()  # Wine's own .update-timestamp stays: it would skip set-up
    third = run("verify", str(bundle), "--load")
    assert third.exit_code == 0, third.stdout + third.stderr
    assert (cache / "wine-prefix" / "system.reg").is_file()


def _processes_with_wineprefix_under(folder: Path) -> list[str]:
    """The processes whose WINEPREFIX lies in ``folder``: Wine's helpers name no path in their command lines."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if any(v.startswith(b"WINEPREFIX=" + str(folder).encode()) for v in environ):
            found.append(f"{proc.name} {cmdline}")
    return found


def test_an_interrupted_unconfined_wine_set_up_leaves_no_wine_process(bundle: Path, tmp_path: Path) -> None:
    """Unconfined, Wine's helpers (services.exe, rundll32 running wine.inf) are in sessions of their own,
    out of reach of the set-up's process group: they used to spin on, on a prefix being deleted."""
    cache = tmp_path / "cache"
    # 3.5 s in, wineboot has started Wine's services and runs wine.inf
    code, said = _interrupt_wine_set_up(bundle, cache, after=3.5, sandbox="off")
    assert code == 130, said
    assert _processes_with_wineprefix_under(cache) == []
    assert not (cache / "wine-prefix").exists() and not list(cache.glob(".wine-prefix.setup-*"))
