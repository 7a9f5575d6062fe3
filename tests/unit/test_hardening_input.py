"""Bounded input (issue 21): every size and number npuslim parses, fed a generated corpus.

Each option that takes a size or a number, and each file field that holds one,
is run through the CLI with the same hostile values: too many digits, floats
past infinity, NaN, negatives, empty text, digits of other scripts, odd unit
case, stray whitespace. A refusal is exit 2 for an option, exit 4 for a file,
and exactly one ``npuslim: error:`` line, never a traceback; a value that is
accepted reaches the next check (the missing bundle or install), not a crash.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from npuslim.knowledge.manifest import manifests_dir
from npuslim.units import MAX_SIZE_BYTES, parse_budget, parse_size
from tests.cli_helpers import one_error_line, run
from tests.support import corpus

HUGE = "9" * 400
PAST_INT_LIMIT = "7" * 5000  # more digits than int() converts

# sizes no option or file may take, whatever the unit
BAD_SIZES = [
    HUGE, HUGE + "MB", PAST_INT_LIMIT, "1e309", "1E309MB", "1e3", "nan", "NaN", "inf", "-inf", "Infinity",
    "-5", "-5MB", "+5MB", "", " ", "\t", "MB", "5 TB", "5XB", "0x10", "1_000", "1,5MB", "1.5.2GB", ".5MB", "5.MB",
    "\u0661\u0662MB",  # Arabic-Indic digits
    "\uff11\uff12MB",  # fullwidth digits
    "\u00b2MB",  # a superscript two: str.isdigit() says yes
    "12\u3000MB",  # an ideographic space
    "12\u00a0MB",  # a no-break space
    "12MB\n13MB", "1" * 15 + "GB", str(MAX_SIZE_BYTES + 1),
]
# accepted, with the value they mean
GOOD_SIZES = [
    ("50MB", 50_000_000), ("50mb", 50_000_000), ("50Mb", 50_000_000), ("50mB", 50_000_000),
    (" 48MiB ", 48 * 2**20), ("48 mib", 48 * 2**20), ("1.75gB", 1_750_000_000), ("\t2kib\n", 2048),
    ("123456", 123456), (str(MAX_SIZE_BYTES), MAX_SIZE_BYTES), ("1024TiB"[:-3] + "GiB", 1024 * 2**30),
]
BAD_SECONDS = ["nan", "NaN", "inf", "-inf", "1e309", HUGE, "-1", "0", "1e300", "", "ten"]


@pytest.mark.parametrize("text", BAD_SIZES)
def test_parse_size_refuses_with_a_value_error(text: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_size(text)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 200


@pytest.mark.parametrize(("text", "expected"), GOOD_SIZES)
def test_sizes_in_any_unit_case_and_with_whitespace(text: str, expected: int) -> None:
    assert parse_size(text) == expected == parse_budget(text)


@pytest.mark.parametrize("value", [10**400, MAX_SIZE_BYTES + 1, -1, 0, True, 1.5, float("nan"), None, [1]])
def test_budgets_of_other_types_are_refused_as_input_errors(value: object) -> None:
    from npuslim.errors import InputError

    with pytest.raises(InputError, match="^budget: ") as exc:
        parse_budget(value, where="budget")  # type: ignore[arg-type]
    assert len(str(exc.value)) < 200


# -- every option, through the CLI: (name, command line for a value)

def _size_options(tmp: Path) -> dict[str, Callable[[str], list[str]]]:
    missing = str(tmp / "no-such")
    return {
        "extract --max-size": lambda v: ["extract", missing, "-o", str(tmp / "out"), "--max-size", v],
        "pack --max-size": lambda v: ["pack", missing, "--max-size", v],
        "pack --baseline": lambda v: ["pack", missing, "--baseline", v],
        "diff --fail-on size>": lambda v: ["diff", missing, missing, "--fail-on", f"size>{v}"],
        "diff --fail-on size>%": lambda v: ["diff", missing, missing, "--fail-on", f"size>{v}%"],
    }


def _refused(args: list[str], code: int) -> str:
    result = run(*args)
    assert result.exit_code == code, (args[:3], result.exit_code, result.stderr[-300:])
    return one_error_line(result)


def test_every_size_option_refuses_the_whole_corpus_on_one_line(tmp_path: Path) -> None:
    options = _size_options(tmp_path)
    tried = 0
    for name, command in options.items():
        for text in BAD_SIZES:
            if name.endswith("%") and text in ("", " ", "\t"):
                continue  # "size>%" is refused too, but by the same rule as "size>"
            line = _refused(command(text), 2)
            assert len(line) < 400, (name, line)
            tried += 1
    assert tried >= 5 * (len(BAD_SIZES) - 1)
    assert not (tmp_path / "out").exists()


def test_every_size_option_takes_good_sizes_and_reaches_the_next_check(tmp_path: Path) -> None:
    options = _size_options(tmp_path)
    next_check = {"extract": 4, "pack": 5, "diff": 4}  # the missing install, bundle or side
    for name, command in options.items():
        if name.endswith("%"):
            continue
        for text, _value in GOOD_SIZES:
            args = command(text)
            result = run(*args)
            assert result.exit_code == next_check[args[0]], (name, text, result.stderr)
            assert "no-such" in one_error_line(result)


def test_percentages_are_bounded(tmp_path: Path) -> None:
    command = _size_options(tmp_path)["diff --fail-on size>%"]
    for text in ("5", "5.5", "999999999"):
        assert run(*command(text)).exit_code == 4  # accepted: the missing side is next
    for text in ("1" * 10, HUGE, "5.1234567", "\u0665"):
        _refused(command(text), 2)


@pytest.mark.parametrize("option", ["pack --upx-timeout", "verify --timeout"])
def test_timeouts_must_be_finite_and_bounded(option: str, tmp_path: Path) -> None:
    command, flag = option.split()
    for text in BAD_SECONDS:
        line = _refused([command, str(tmp_path / "no-such"), flag, text], 2)
        assert flag in line
    assert run(command, str(tmp_path / "no-such"), flag, "600").exit_code == 5


def test_jobs_are_bounded(tmp_path: Path) -> None:
    for text in (HUGE, PAST_INT_LIMIT, "0", "-1", "1025", "nan", "1e3", "", "\u0662" * 5):
        _refused(["pack", str(tmp_path / "no-such"), "--jobs", text], 2)
    # click reads digits of any script as their value (int("\u0662") == 2): bounded all the same
    for text in ("1024", "\u0662"):
        assert run("pack", str(tmp_path / "no-such"), "--jobs", text).exit_code == 5


@pytest.mark.parametrize("value", [HUGE, PAST_INT_LIMIT, "-5", "\u0661\u0662\u0660", "nan", "1e309"])
def test_a_terminal_width_that_is_no_number_is_ignored(value: str, tmp_path: Path) -> None:
    result = run("pack", str(tmp_path / "no-such"), env={"COLUMNS": value, "LINES": value})
    assert result.exit_code == 5 and "no-such" in one_error_line(result)


# -- sizes in files: exit 4

def _manifest_with_budget(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "budget.yaml"
    path.write_text((manifests_dir() / "npu.yaml").read_text() + f"\nbudget: {value}\n")
    return path


@pytest.mark.parametrize("value", [HUGE, PAST_INT_LIMIT, "1e309", "1.0e+309", ".nan", ".inf", "-.inf", "-5", "0",
                                   "''", "'\u0661\u0662MB'", "'5 TB'", str(MAX_SIZE_BYTES + 1), "true", "[1]"])
def test_a_manifest_budget_is_refused_on_one_line_with_exit_4(value: str, tmp_path: Path) -> None:
    manifest = _manifest_with_budget(tmp_path, value)
    for args in (["extract", str(tmp_path / "no-such"), "-m", str(manifest), "-o", str(tmp_path / "out")],
                 ["deps", str(tmp_path / "no-such"), "-m", str(manifest)]):
        line = _refused(args, 4)  # the field named, or for 5000 digits the YAML that cannot be read
        assert "budget.yaml: budget: " in line or (value == PAST_INT_LIMIT and "budget.yaml: not valid YAML" in line)


@pytest.mark.parametrize("value", ["50mb", " 48MiB ", "123456", str(MAX_SIZE_BYTES)])
def test_a_manifest_budget_that_is_a_size_is_taken(value: str, tmp_path: Path) -> None:
    manifest = _manifest_with_budget(tmp_path, f"'{value}'")
    result = run("deps", str(tmp_path / "no-such"), "-m", str(manifest))
    assert result.exit_code == 4 and "no-such" in one_error_line(result)


@pytest.mark.parametrize("limit", [10**400, -1, 0, True, "50MB", MAX_SIZE_BYTES + 1])
def test_a_recorded_budget_in_a_lock_file_is_bounded(limit: object, tmp_path: Path) -> None:
    s = corpus.base_sandbox(tmp_path / "box")
    bundle = corpus._bundle(s)
    lock_path = bundle / "npuslim-bundle.json"
    lock = json.loads(lock_path.read_text())
    lock["budget"] = {"schema": "npuslim.budget", "schema_version": 1, "limit": limit, "limit_text": "x",
                      "origin": "manifest test", "verdict": "within",
                      "subjects": [{"name": "bundle", "path": None, "size": 1, "files": 1, "measured_as": "m",
                                    "verdict": "within", "over_by": 0, "largest": []}]}
    lock_path.write_text(json.dumps(lock))
    result = run("pack", str(bundle), "-o", str(tmp_path / "packed"), "--archive", "none")
    errors = [ln for ln in result.stderr.splitlines() if not ln.startswith("npuslim: verify: ")]  # progress
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1:  # the schema's integer >= 1
        assert result.exit_code == 4, result.stderr  # but past what a size can be
        assert errors[0].startswith("npuslim: error: the input bundle's lock file: budget.limit: ")
    else:  # not a byte count at all (JSON's true included): the lock file is malformed, as any field would be
        assert result.exit_code == 5, result.stderr
        assert "malformed lock file" in errors[0] and "budget" in errors[0]
    assert not (tmp_path / "packed").exists()


# -- binaries are never read whole: a 6 GB (sparse) ONNX Runtime provider

@contextmanager
def _address_space_at_most(extra: int) -> Iterator[None]:
    """Cap this process's address space at what it uses now plus ``extra`` bytes, so that reading
    a 6 GB file whole fails at once with MemoryError instead of filling the machine's memory."""
    import resource

    used = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmSize from /proc (Linux)")
def test_a_6gb_provider_dll_is_refused_by_its_size_without_reading_it(tmp_path: Path) -> None:
    from tests.support.crafted import build_pe

    ort = tmp_path / "ort"
    ort.mkdir()
    (ort / "onnxruntime.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    provider = ort / "onnxruntime_providers_openvino.dll"
    with open(provider, "wb") as fh:
        fh.truncate(6 << 30)  # sparse: no disk space, no memory
    assert provider.stat().st_size == 6 << 30
    with _address_space_at_most(1 << 30):
        results = [run("deps", "--onnxruntime", str(ort)),
                   run("extract", str(tmp_path / "no-such"), "--onnxruntime", str(ort), "-o", str(tmp_path / "out"))]
    for result in results:
        assert result.exit_code == 4, result.stderr[-300:]
        line = one_error_line(result)
        assert "onnxruntime_providers_openvino.dll: 6442450944 bytes, more than" in line and "unread" in line
    assert not (tmp_path / "out").exists()


def test_the_built_against_release_is_found_in_a_data_section_only(tmp_path: Path) -> None:
    from npuslim.plan.onnxruntime import built_against
    from tests.support.crafted import build_pe

    plain = tmp_path / "plain.dll"
    plain.write_bytes(build_pe(("KERNEL32.dll",)))
    assert built_against(plain) is None
    not_pe = tmp_path / "not-pe.dll"
    not_pe.write_bytes(b"openvino_toolkit_windows_2025.4.1 " * 10)
    from npuslim.errors import InputError

    with pytest.raises(InputError, match="not a PE"):
        built_against(not_pe)


# -- the wheel cache is keyed by content, not by name, size and date

WHEEL_NAME = "openvino-2099.21.0-1-cp311-cp311-win_amd64.whl"


def _wheel_importing(path: Path, dependency: str) -> Path:
    """A crafted wheel whose a.dll imports ``dependency``; stored (not deflated), so two such
    wheels whose dependency names have the same length have the same size."""
    from tests.support.crafted import build_pe

    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {"openvino/__init__.py": b"", "openvino/include/a.h": b"int a;\n",
               "openvino/libs/a.dll": build_pe((dependency,)),
               "openvino/libs/b.dll": build_pe(("KERNEL32.dll",)), "openvino/libs/c.dll": build_pe(("KERNEL32.dll",))}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return path


def _imports_of_a(wheel: Path) -> list[str]:
    result = run("deps", str(wheel), "--root", "a.dll", "--format", "json", "--no-hints")
    assert result.exit_code == 0, result.stderr
    edges = json.loads(result.stdout)["edges"]
    return sorted(e["target"] for e in edges if e["source"].lower() == "a.dll")


def test_two_wheels_alike_in_name_size_and_date_are_told_apart(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))  # a cache of its own
    first = _wheel_importing(tmp_path / "one" / WHEEL_NAME, "b.dll")
    second = _wheel_importing(tmp_path / "two" / WHEEL_NAME, "c.dll")  # as cp -p or rsync -a would leave it
    a, b = first.stat(), second.stat()
    assert (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns) and first.read_bytes() != second.read_bytes()
    assert _imports_of_a(first) == ["b.dll"]
    assert _imports_of_a(second) == ["c.dll"]
    # the same file rewritten in place with the other content, its date put back
    _wheel_importing(first, "c.dll")
    assert first.stat().st_mtime_ns == a.st_mtime_ns and first.stat().st_size == a.st_size
    assert _imports_of_a(first) == ["c.dll"]
    # and the same content under another folder is the same cache entry
    from npuslim.source.wheel import unpack_wheel

    assert unpack_wheel(first) == unpack_wheel(second)
