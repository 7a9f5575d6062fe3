"""``npuslim deps`` end to end through the CLI: formats, exit codes, bad input.

The tests that build, run or download; the pure ones are in tests/unit/test_cli_deps.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from npuslim import __version__
from tests.cli_helpers import run
from tests.support.mingw import Import, build_dll

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" /
                     "deps.schema.json").read_text())


def test_version_from_the_module_and_the_runner() -> None:
    assert run("--version").stdout.splitlines()[0] == f"npuslim {__version__}"
    proc = subprocess.run([sys.executable, "-m", "npuslim", "-V"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.splitlines()[0] == f"npuslim {__version__}", proc.stderr
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines()[1:])
    assert sys.executable in lines["Python"] and set(lines) >= {"Platform", "typer", "rich", "pefile", "lief",
                                                               "UPX", "Wine", "mingw-w64"}
    # the libraries are reported from their metadata, not imported: lief is not loaded by --version
    probe = "import sys; from npuslim.cli import main; sys.argv = ['npuslim', '-V']\n" \
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('lief' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "False", proc.stdout + proc.stderr


def test_no_source_and_no_openvino_names_the_options(tmp_path) -> None:
    # A child of this very interpreter (the venv's own site-packages, nothing from the
    # base Python) in which ``import openvino`` is blocked, whatever is installed.
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "PYTHONNOUSERSITE": "1"}
    proc = subprocess.run([sys.executable, "-c",
                           ("import sys; sys.modules['openvino'] = None;"
                           "from npuslim.cli import main; sys.argv=['npuslim','deps']; main()")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 4, proc.stderr
    assert "openvino==2026.4.1" in proc.stderr and "INTEL_OPENVINO_DIR" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.mingw
def test_missing_dependency_exit_3_lists_each_once(tmp_path: Path) -> None:
    build_dll(tmp_path, "b.dll", imports=(Import("gone.dll", "gone"),))
    build_dll(tmp_path, "a.dll", imports=(Import("b.dll", "b"), Import("gone.dll", "gone")))
    result = run("deps", str(tmp_path / "a.dll"), "--format", "table")
    assert result.exit_code == 3
    assert result.stdout.count("MISSING: gone.dll") == 1
    result = run("deps", str(tmp_path / "a.dll"), "--format", "json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["summary"]["missing"] == ["gone.dll"]
    assert result.stderr.strip() == "npuslim: error: 1 dependency missing: gone.dll"


@pytest.mark.mingw
def test_dot_and_mermaid_describe_the_graph(tmp_path: Path) -> None:
    build_dll(tmp_path, "lazy.dll")
    build_dll(tmp_path, "a.dll", imports=(Import("lazy.dll", "lazy", delay=True),))
    dot = run("deps", str(tmp_path / "a.dll"), "--format", "dot")
    assert dot.exit_code == 0
    assert dot.stdout.startswith("digraph npuslim {")
    assert '"a.dll" -> "lazy.dll" [style=dashed];' in dot.stdout
    mermaid = run("deps", str(tmp_path / "a.dll"), "-f", "mermaid")
    assert mermaid.stdout.startswith("flowchart LR")
    assert "n0 -.-> n" in mermaid.stdout


@pytest.mark.wheels
def test_json_of_the_real_npu_closure_validates(ov2026) -> None:
    result = run("deps", str(ov2026.root), "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["schema_version"] == 1 and data["source"]["layout"] == "wheel"
    assert data["source"]["openvino_version"] == "2026.4.1.22982"
    bundled = {n["name"] for n in data["nodes"] if n["class"] == "bundled"}
    assert bundled == {"openvino_intel_npu_plugin.dll", "openvino.dll", "tbb12.dll",
                       "openvino_ir_frontend.dll", "openvino_c.dll"}
    companions = {c["name"]: c for c in data["companions"]}
    assert companions["openvino_intel_npu_compiler_loader.dll"]["state"] == "optional"


@pytest.mark.wheels
def test_tree_names_every_file_with_its_class(ov2026) -> None:
    result = run("deps", str(ov2026.dll_dir / "openvino_intel_npu_plugin.dll"))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in ("openvino_intel_npu_plugin.dll", "openvino.dll", "tbb12.dll", "msvc-runtime",
                 "MSVCP140.dll", "KERNEL32.dll", "api-ms-win", "Loaded at run time",
                 "openvino_intel_npu_compiler_loader.dll", "nothing missing", "single-dll layout"):
        assert text in out, text


@pytest.mark.wheels
def test_a_wheel_file_is_unpacked_once_into_the_cache(ov2026, tmp_path: Path) -> None:
    wheel = Path(ov2026.origin)
    assert wheel.suffix == ".whl"
    first = run("deps", str(wheel), "-f", "json", env={"NPUSLIM_CACHE_DIR": str(tmp_path / "c")})
    assert first.exit_code == 0, first.stderr
    root = json.loads(first.stdout)["source"]["root"]
    assert root.startswith(str(tmp_path / "c"))
    marker = Path(root) / "marker"
    marker.write_text("kept")
    second = run("deps", str(wheel), "-f", "json", env={"NPUSLIM_CACHE_DIR": str(tmp_path / "c")})
    assert json.loads(second.stdout)["source"]["root"] == root and marker.exists()


@pytest.mark.wheels
def test_requirement_source_uses_the_cached_download(ov2026) -> None:
    result = run("deps", "openvino==2026.4.1", "-f", "json", "--no-hints")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"]["origin"] == "openvino==2026.4.1"
    assert data["source"]["openvino_version"] == "2026.4.1.22982"


def test_the_root_help_imports_no_command_and_a_command_only_its_own() -> None:
    probe = ("import sys\nfrom npuslim.cli import main\nsys.argv = ['npuslim', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('npuslim.cli.main_')))")
    for args, loaded in ((["--help"], "[]"), (["deps", "--help"], "['npuslim.cli.main_deps']")):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                              env=dict(os.environ, COLUMNS="80"))
        assert proc.stdout.splitlines()[-1] == loaded, proc.stdout + proc.stderr


_MODULES_PROBE = ("import sys\nfrom npuslim.cli import main\nsys.argv = ['npuslim', *sys.argv[1:]]\n"
                  "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
                  "sys.stderr.write('MODULES ' + ' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
                  "('rich', 'pefile', 'npuslim'))) + f' EXIT {code}\\n')")


def _modules_of(*args: str, machine: bool = True) -> set[str]:
    """The rich, pefile and npuslim modules a run through a pipe imported (its exit status must be 0;
    ``machine``: it printed JSON)."""
    proc = subprocess.run([sys.executable, "-c", _MODULES_PROBE, *args], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE",
                                                                                 "TTY_INTERACTIVE")})
    line = proc.stderr.strip().splitlines()[-1]
    assert line.endswith(" EXIT 0"), proc.stderr
    if machine:
        json.loads(proc.stdout)
    return set(line.split()[1:-2])


@pytest.mark.wheels
def test_machine_output_through_a_pipe_imports_neither_rich_nor_the_other_platforms_reader(ov2026,
                                                                                          ovlinux2026) -> None:
    windows = _modules_of("deps", str(ov2026.root), "-f", "json")
    assert "npuslim.formats.pe" in windows and "pefile" in windows  # the probe sees what was imported
    assert not {m for m in windows if m.startswith("rich")}
    assert not windows & {"npuslim.formats.elf", "npuslim.analyse.resolve_elf", "npuslim.analyse.closure_elf"}
    linux = _modules_of("deps", str(ovlinux2026.root), "-f", "json")
    assert "npuslim.formats.elf" in linux
    assert not {m for m in linux if m.startswith("rich")}
    assert not linux & {"pefile", "npuslim.formats.pe", "npuslim.formats.pe_tables", "npuslim.analyse.symbols"}
    people = _modules_of("deps", str(ov2026.root), "-f", "table", machine=False)  # a table for people: rich
    assert "rich.console" in people
