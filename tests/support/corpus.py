"""The adversarial corpus: hostile inputs generated on the spot, each run as a real ``npuslim``
process in a sandbox, judged on four counts.

Every case builds its inputs in its own sandbox folder (crafted PE files from
``tests.support.crafted``, manifests, bundle manifests, wheels, FIFOs, symbolic
links), runs one command line and checks:

- the exit code is the documented one (README, "Exit codes");
- no traceback, and a failure says one line on stderr (``npuslim: error: ...``);
- it finished (a run still going after ``HANG_GUARD`` seconds counts as a hang:
  every case takes well under a second, so the guard only tells a hang apart);
- nothing outside the places it may write changed (the case's OUT and the
  cache); in particular ``secret.txt`` beside the sandbox and the source install.

``python -m tests.support.corpus`` prints the size of the corpus, the number of
inputs and the four counts; ``tests/integration/test_hardening.py`` runs every case.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.crafted import build_pe, corruptions

REPO = Path(__file__).resolve().parent.parent.parent
HANG_GUARD = 120.0
SECRET = b"the content of a file npuslim must never touch\n"

# ----------------------------------------------------------------- the sandbox

TEST_MANIFEST = """\
schema_version: 1
name: test
description: a crafted three-DLL graph
roots: [a.dll]
features:
  extra:
    default: false
    description: one more DLL
companions:
  - name: d.dll
    loaded_by: a.dll
    feature: extra
    reason: loaded at run time
headers:
  - path: a.h
licenses: ["LICENSE.txt"]
"""


def make_install(root: Path) -> Path:
    """An archive-layout install of crafted DLLs: a.dll -> b.dll -> c.dll, d.dll, headers, a licence."""
    release = root / "runtime" / "bin" / "intel64" / "Release"
    release.mkdir(parents=True)
    (release / "a.dll").write_bytes(build_pe(("b.dll", "KERNEL32.dll")))
    (release / "b.dll").write_bytes(build_pe(("c.dll", "api-ms-win-crt-runtime-l1-1-0.dll")))
    (release / "c.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    (release / "d.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    include = root / "runtime" / "include"
    include.mkdir(parents=True)
    (include / "a.h").write_text('#include "b.h"\n#include <stdio.h>\n')
    (include / "b.h").write_text("int b(void);\n")
    (root / "LICENSE.txt").write_text("Apache-2.0\n")
    return root


def base_sandbox(box: Path) -> dict[str, Path]:
    box.mkdir(parents=True)
    (box / "secret.txt").write_bytes(SECRET)
    install = make_install(box / "install")
    manifest = box / "test.yaml"
    manifest.write_text(TEST_MANIFEST)
    (box / "home").mkdir()
    return {"box": box, "install": install, "manifest": manifest,
            "release": install / "runtime" / "bin" / "intel64" / "Release"}


def snapshot(box: Path, skip: tuple[Path, ...]) -> dict[str, tuple]:
    """Every entry under ``box`` (type, size, mode, content hash), except the trees in ``skip``."""
    out: dict[str, tuple] = {}
    skip_r = tuple(s.absolute() for s in skip)
    for dirpath, dirs, files in os.walk(box):
        here = Path(dirpath)
        dirs[:] = [d for d in dirs if (here / d).absolute() not in skip_r]
        for name in dirs + files:
            path = here / name
            if path.absolute() in skip_r:
                continue
            st = path.lstat()
            rel = path.relative_to(box).as_posix()
            if stat.S_ISREG(st.st_mode) and st.st_size <= (1 << 22):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            else:
                digest = ""
            out[rel] = (stat.S_IFMT(st.st_mode), st.st_size if stat.S_ISREG(st.st_mode) else 0, digest)
    return out


# ----------------------------------------------------------------- cases


@dataclass
class Case:
    """One hostile run: ``setup`` builds inputs in the sandbox and returns the command line."""

    name: str
    klass: str
    setup: Callable[[dict[str, Path]], list[str]]
    code: int | tuple[int, ...]
    env: dict[str, str] = field(default_factory=dict)
    may_write: tuple[str, ...] = ("out",)          # sandbox-relative trees the run may change
    stdout: str = "pipe"                           # pipe | closed | full | early-close
    check: Callable[[dict[str, Path], subprocess.CompletedProcess], str | None] | None = None
    one_line: bool = True                          # a failure must be one stderr line


@dataclass
class Outcome:
    case: Case
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    problems: list[str]


def _cli(*args: str) -> list[str]:
    return list(args)


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _bundle(s: dict[str, Path]) -> Path:
    """A real bundle of the crafted install, made by the npuslim in this checkout (in-process)."""
    from npuslim.act.staging import write_bundle
    from npuslim.knowledge.manifest import load_manifest, load_windows_facts
    from npuslim.plan.bundle import PlanRequest, plan_bundle
    from npuslim.source.locate import locate

    manifest = load_manifest(s["manifest"])
    request = PlanRequest(features=manifest.default_features(), facts=load_windows_facts())
    plan = plan_bundle(locate(str(s["install"])), manifest=manifest, request=request)
    out = s["box"] / "bundle"
    write_bundle(plan, out)
    return out


def _edit_lock(s: dict[str, Path], edit: Callable[[dict], object]) -> list[str]:
    bundle = _bundle(s)
    path = bundle / "npuslim-bundle.json"
    data = json.loads(path.read_text())
    new = edit(data)
    path.write_text(json.dumps(data if new is None else new))
    return _cli("verify", str(bundle))


def _raw_lock(s: dict[str, Path], text: str) -> list[str]:
    bundle = _bundle(s)
    (bundle / "npuslim-bundle.json").write_text(text)
    return _cli("verify", str(bundle))


def _extract(s: dict[str, Path], *extra: str, source: str | None = None) -> list[str]:
    return _cli("extract", source or str(s["install"]), "-m", str(s["manifest"]), *extra)


def _manifest_case(text: str | bytes) -> Callable[[dict[str, Path]], list[str]]:
    def setup(s: dict[str, Path]) -> list[str]:
        _write(s["box"] / "bad.yaml", text)
        return _cli("deps", str(s["install"]), "-m", str(s["box"] / "bad.yaml"))
    return setup


def _wheel(path: Path, entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _crafted_wheel(s: dict[str, Path], name: str = "openvino-2099.1.0-1-cp311-cp311-win_amd64.whl",
                   extra: dict[str, bytes] | None = None) -> Path:
    entries = {"openvino/__init__.py": b"", "openvino/include/a.h": b"int a;\n",
               "openvino/libs/a.dll": build_pe(("b.dll",)), "openvino/libs/b.dll": build_pe(("KERNEL32.dll",))}
    entries.update(extra or {})
    return _wheel(s["box"] / name, entries)


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _no_file_in(folder: str, needle: str) -> Callable[[dict[str, Path], subprocess.CompletedProcess], str | None]:
    def check(s: dict[str, Path], _proc: subprocess.CompletedProcess) -> str | None:
        root = s["box"] / folder
        for path in root.rglob("*") if root.exists() else ():
            if path.is_file() and needle.encode() in path.read_bytes():
                return f"{path} holds {needle!r}"
        return None
    return check


def _lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.strip()]


def cases() -> list[Case]:
    out: list[Case] = []
    add = out.append
    valid = build_pe(("KERNEL32.dll",))

    # ---- corrupt PE files: as a root in an install, as the single-DLL source, as openvino.dll
    for name, make in corruptions(valid).items():
        def as_root(s: dict[str, Path], make=make) -> list[str]:
            _write(s["release"] / "a.dll", make())
            return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
        add(Case(f"pe-root-{name}", "corrupt PE", as_root, 4))

        def as_import(s: dict[str, Path], make=make) -> list[str]:
            _write(s["release"] / "c.dll", make())
            return _extract(s, "-o", str(s["box"] / "out"))
        add(Case(f"pe-import-{name}", "corrupt PE", as_import, 4))

        def as_source(s: dict[str, Path], make=make) -> list[str]:
            return _cli("deps", str(_write(s["box"] / "x.dll", make())))
        add(Case(f"pe-source-{name}", "corrupt PE", as_source, 4))

    def openvino_cut(s: dict[str, Path]) -> list[str]:
        _write(s["release"] / "openvino.dll", build_pe(("KERNEL32.dll",))[:536])
        return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
    add(Case("pe-openvino-dll-cut-to-536-bytes", "corrupt PE", openvino_cut, 4))

    def foreign_machine(s: dict[str, Path]) -> list[str]:
        _write(s["release"] / "b.dll", build_pe(("c.dll",), machine=0x14C))
        return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
    add(Case("pe-foreign-machine", "corrupt PE", foreign_machine, 4))

    # ---- writes and reads outside
    for label, header in (("dotdot", "../../secret.txt"), ("absolute", "{box}/secret.txt"),
                          ("backslash", "..\\\\..\\\\secret.txt"), ("drive", "C:/secret.txt")):
        def header_root(s: dict[str, Path], header=header) -> list[str]:
            text = TEST_MANIFEST.replace("path: a.h", f"path: {header.format(box=s['box'])}")
            _write(s["box"] / "evil.yaml", text)
            return _cli("extract", str(s["install"]), "-m", str(s["box"] / "evil.yaml"), "-o", str(s["box"] / "out"))
        add(Case(f"outside-manifest-header-{label}", "outside", header_root, 4))

    def include_absolute(s: dict[str, Path]) -> list[str]:
        _write(s["install"] / "runtime" / "include" / "a.h", f'#include "{s["box"]}/secret.txt"\n'
               f'#include "../../../secret.txt"\n#include "b.h"\n')
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("outside-include-absolute-and-dotdot", "outside", include_absolute, 0,
             check=_no_file_in("out", "must never touch")))

    def header_symlink(s: dict[str, Path]) -> list[str]:
        link = s["install"] / "runtime" / "include" / "b.h"
        link.unlink()
        link.symlink_to(s["box"] / "secret.txt")
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("outside-header-symlink", "outside", header_symlink, 4))

    def licence_symlink(s: dict[str, Path]) -> list[str]:
        (s["install"] / "LICENSE.txt").unlink()
        (s["install"] / "LICENSE.txt").symlink_to(s["box"] / "secret.txt")
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("outside-licence-symlink", "outside", licence_symlink, 4))

    def licence_loop(s: dict[str, Path]) -> list[str]:
        (s["install"] / "LICENSE.txt").unlink()
        (s["install"] / "LICENSE.txt").symlink_to(s["install"] / "LICENSE.txt")
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("input-licence-symlink-loop", "exit codes", licence_loop, 4))

    for label, value in (("dotdot", "../../secret.txt"), ("absolute", "{box}/secret.txt"),
                         ("backslash", "..\\\\..\\\\secret.txt")):
        def lock_path(s: dict[str, Path], value=value) -> list[str]:
            return _edit_lock(s, lambda d: d["files"][0].update(path=value.format(box=s["box"])))
        add(Case(f"outside-bundle-entry-{label}", "outside", lock_path, 5))

    add(Case("bundle-duplicate-entry", "outside",
             lambda s: _edit_lock(s, lambda d: d["files"].append(dict(d["files"][0]))), 5))
    add(Case("bundle-duplicate-entry-case", "outside",
             lambda s: _edit_lock(s, lambda d: d["files"].append(dict(d["files"][0], path=d["files"][0]["path"].upper()))), 5))

    def bin_symlink(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        other = s["box"] / "elsewhere"
        shutil.copytree(bundle / "bin", other)
        _write(other / "unlisted.dll", valid)
        shutil.rmtree(bundle / "bin")
        (bundle / "bin").symlink_to(other)
        return _cli("verify", str(bundle))
    add(Case("outside-bundle-bin-symlink", "outside", bin_symlink, 5))

    def file_symlink(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        lic = bundle / "licenses" / "LICENSE.txt"
        lic.unlink()
        lic.symlink_to(s["box"] / "secret.txt")
        return _cli("verify", str(bundle))
    add(Case("outside-bundle-file-symlink", "outside", file_symlink, 5))

    for label, platform in (("dotdot", "../../x"), ("absolute", "/tmp/npuslim-x"), ("slash", "win/amd64"),
                            ("dot", "..")):
        add(Case(f"outside-platform-{label}", "outside",
                 lambda s, platform=platform: _cli("deps", "openvino==2026.4.1", "--platform", platform),
                 2))  # not a platform npuslim handles: a usage error, before pip or a cache path

    def out_link(s: dict[str, Path]) -> list[str]:
        (s["box"] / "real").mkdir()
        (s["box"] / "link").symlink_to(s["box"] / "real")
        return _extract(s, "-o", str(s["box"] / "link"))
    add(Case("outside-out-is-symlink", "outside", out_link, 7, may_write=()))

    def wheel_slip(s: dict[str, Path]) -> list[str]:
        wheel = _crafted_wheel(s, extra={"../../evil.dll": valid, "/abs/evil.dll": valid})
        return _cli("deps", str(wheel), "--root", "a.dll")
    add(Case("outside-wheel-zip-slip", "outside", wheel_slip, 4, may_write=()))

    # ---- --force replaces only what npuslim wrote (#9)
    def force_foreign(s: dict[str, Path]) -> list[str]:
        _write(s["box"] / "out" / "precious.txt", "mine")
        _write(s["box"] / "out" / "sub" / "notes.md", "mine")
        return _extract(s, "-o", str(s["box"] / "out"), "--force")
    add(Case("force-refuses-a-non-bundle-folder", "outside", force_foreign, 7, may_write=()))

    def force_bundle_plus_foreign(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        _write(bundle / "precious.txt", "mine")
        return _extract(s, "-o", str(bundle), "--force")
    add(Case("force-refuses-a-bundle-with-foreign-files", "outside", force_bundle_plus_foreign, 7, may_write=()))

    def force_bundle(s: dict[str, Path]) -> list[str]:
        return _extract(s, "-o", str(_bundle(s)), "--force")
    add(Case("force-replaces-an-npuslim-bundle", "outside", force_bundle, 0, may_write=("bundle",)))

    def no_force(s: dict[str, Path]) -> list[str]:
        return _extract(s, "-o", str(_bundle(s)))
    add(Case("output-existing-bundle-without-force", "exit codes", no_force, 7, may_write=()))

    # ---- unbounded memory, time, disk
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    ) + "schema_version: *i\n"
    add(Case("bounds-yaml-alias-bomb", "unbounded", _manifest_case(bomb), 4))
    add(Case("bounds-yaml-alias-bomb-in-roots", "unbounded",
             _manifest_case(bomb.replace("schema_version: *i", "schema_version: 1\nname: x\nroots: *i")), 4))
    add(Case("bounds-yaml-deep-nesting", "unbounded", _manifest_case("x: " + "[" * 5000 + "]" * 5000), 4))
    add(Case("bounds-yaml-deep-block-nesting", "unbounded",
             _manifest_case("".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n"), 4))
    add(Case("bounds-yaml-huge-file", "unbounded", _manifest_case("# " + "x" * (2 << 20)), 4))
    add(Case("bounds-yaml-recursive-alias", "unbounded", _manifest_case("a: &a [1, *a]\n"), 4))
    add(Case("outside-manifest-companion-path", "outside",
             _manifest_case(TEST_MANIFEST.replace("name: d.dll", "name: ../../d.dll")), 4))
    add(Case("outside-manifest-licence-pattern", "outside",
             _manifest_case(TEST_MANIFEST.replace('licenses: ["LICENSE.txt"]', 'licenses: ["../*"]')), 4))
    add(Case("outside-manifest-import-library-path", "outside",
             _manifest_case(TEST_MANIFEST + "import_libraries: [{name: /etc/passwd}]\n"), 4))

    def wheel_bomb(s: dict[str, Path]) -> list[str]:
        wheel = _crafted_wheel(s, extra={"openvino/libs/zeros.dll": bytes(64 << 20)})
        return _cli("deps", str(wheel), "--root", "a.dll")
    add(Case("bounds-wheel-compression-bomb", "unbounded", wheel_bomb, 4, may_write=()))

    def chain(s: dict[str, Path], depth: int, fmt: str) -> list[str]:
        folder = s["box"] / "chain"
        folder.mkdir()
        for i in range(depth):
            imports = (f"n{i + 1}.dll",) if i + 1 < depth else ("KERNEL32.dll",)
            (folder / f"n{i}.dll").write_bytes(build_pe(imports))
        return _cli("deps", str(folder / "n0.dll"), "--format", fmt, "--no-hints")

    def json_is_linear(s: dict[str, Path], proc: subprocess.CompletedProcess) -> str | None:
        per_node = len(proc.stdout) / 3000
        return None if per_node < 2000 else f"JSON holds {per_node:.0f} bytes per node"
    add(Case("bounds-chain-3000-json", "unbounded", lambda s: chain(s, 3000, "json"), 0, check=json_is_linear))
    add(Case("bounds-chain-1000-tree", "unbounded", lambda s: chain(s, 1000, "tree"), 0))
    add(Case("bounds-chain-1000-table", "unbounded", lambda s: chain(s, 1000, "table"), 0))

    def wide(s: dict[str, Path]) -> list[str]:
        dll = _write(s["box"] / "wide" / "w.dll", build_pe(tuple(f"m{i}.dll" for i in range(10000))))
        return _cli("deps", str(dll), "--no-hints")
    add(Case("bounds-10000-imports-tree", "unbounded", wide, 3))

    # ---- hangs: only regular files are opened
    add(Case("hang-fifo-as-source", "hangs", lambda s: _cli("deps", str(_fifo(s["box"] / "x.dll"))), 4))

    def fifo_openvino(s: dict[str, Path]) -> list[str]:
        _fifo(s["release"] / "openvino.dll")
        return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
    add(Case("hang-fifo-openvino-dll", "hangs", fifo_openvino, 4))

    def fifo_root(s: dict[str, Path]) -> list[str]:
        (s["release"] / "a.dll").unlink()
        _fifo(s["release"] / "a.dll")
        return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
    add(Case("hang-fifo-root-dll", "hangs", fifo_root, 4))

    add(Case("hang-fifo-manifest", "hangs",
             lambda s: _cli("deps", str(s["install"]), "-m", str(_fifo(s["box"] / "m.yaml"))), 4))

    def fifo_header(s: dict[str, Path]) -> list[str]:
        (s["install"] / "runtime" / "include" / "b.h").unlink()
        _fifo(s["install"] / "runtime" / "include" / "b.h")
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("hang-fifo-header", "hangs", fifo_header, (0, 4)))

    def fifo_lock(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        (bundle / "npuslim-bundle.json").unlink()
        _fifo(bundle / "npuslim-bundle.json")
        return _cli("verify", str(bundle))
    add(Case("hang-fifo-bundle-manifest", "hangs", fifo_lock, 5))

    def fifo_in_bundle(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        (bundle / "bin" / "c.dll").unlink()
        _fifo(bundle / "bin" / "c.dll")
        return _cli("verify", str(bundle))
    add(Case("hang-fifo-bundle-file", "hangs", fifo_in_bundle, 5))

    add(Case("hang-fifo-wheel", "hangs", lambda s: _cli("deps", str(_fifo(s["box"] / "x.whl"))), 4))

    # ---- exit codes: output problems are 7
    add(Case("output-below-a-file", "exit codes",
             lambda s: _extract(s, "-o", str(s["box"] / "secret.txt" / "out")), 7, may_write=()))
    add(Case("output-is-a-file", "exit codes",
             lambda s: _extract(s, "-o", str(s["box"] / "secret.txt")), 7, may_write=()))
    add(Case("output-name-300-characters", "exit codes",
             lambda s: _extract(s, "-o", str(s["box"] / ("o" * 300))), 7, may_write=()))
    for label, name in (("dot", "."), ("dotdot", ".."), ("root", "/"), ("climbing", "x/..")):
        add(Case(f"output-named-{label}", "exit codes", lambda s, name=name: _extract(s, "-o", name), 7,
                 may_write=()))
    add(Case("output-unwritable-place", "exit codes",
             lambda s: _extract(s, "-o", "/proc/npuslim-out"), 7, may_write=()))
    add(Case("output-inside-the-source", "exit codes",
             lambda s: _extract(s, "-o", str(s["install"] / "out")), 7, may_write=()))
    add(Case("output-is-the-source", "exit codes",
             lambda s: _extract(s, "-o", str(s["install"]), "--force"), 7, may_write=()))
    add(Case("output-file-size-limit", "exit codes",
             lambda s: _extract(s, "-o", str(s["box"] / "out")), 7, env={"NPUSLIM_TEST_FSIZE": "1500"},
             may_write=()))

    def cache_unusable(s: dict[str, Path]) -> list[str]:
        return _cli("deps", str(_crafted_wheel(s)), "--root", "a.dll")
    add(Case("output-cache-unusable", "exit codes", cache_unusable, 7,
             env={"NPUSLIM_CACHE_DIR": "{box}/secret.txt/cache"}, may_write=()))

    def stale_lock(s: dict[str, Path]) -> list[str]:
        _write(s["box"] / ".out.npuslim-lock", "999999999")
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("output-stale-lock-is-taken-over", "concurrency", stale_lock, 0, may_write=("out", ".out.npuslim-lock")))

    def absurd_pid(s: dict[str, Path]) -> list[str]:
        _write(s["box"] / ".out.npuslim-lock", "99999999999999999999")
        (s["box"] / ".out.npuslim-staging-99999999999999999999").mkdir()
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("output-stale-lock-absurd-pid", "concurrency", absurd_pid, 0,
             may_write=("out", ".out.npuslim-lock", ".out.npuslim-staging-99999999999999999999")))

    def live_lock(s: dict[str, Path]) -> list[str]:
        _write(s["box"] / ".out.npuslim-lock", "1")
        return _extract(s, "-o", str(s["box"] / "out"))
    add(Case("output-live-lock-is-respected", "concurrency", live_lock, 7, may_write=(".out.npuslim-lock",)))

    for mode in ("closed", "full", "early-close"):
        # more output than a pipe buffer holds, so an early close is seen while writing
        add(Case(f"stdout-{mode}", "exit codes", lambda s: chain(s, 300, "json"), 7, stdout=mode))

    # ---- exit codes: input problems are 4
    add(Case("input-manifest-not-utf8", "exit codes", _manifest_case(b"schema_version: 1\nname: \xff\xfe\n"), 4))
    add(Case("input-manifest-folder", "exit codes",
             lambda s: _cli("deps", str(s["install"]), "-m", str(s["box"] / "home")), 4))
    add(Case("input-manifest-not-a-mapping", "exit codes", _manifest_case("- 1\n- 2\n"), 4))
    add(Case("input-manifest-python-tag", "exit codes", _manifest_case("!!python/object/apply:os.system [id]\n"), 4))
    add(Case("input-manifest-root-is-a-path", "exit codes",
             _manifest_case(TEST_MANIFEST.replace("roots: [a.dll]", "roots: [../../secret.txt]")), 4))
    add(Case("input-manifest-huge-value-in-error", "exit codes",
             _manifest_case("schema_version: '" + "9" * 500_000 + "'\n"), 4))

    def wheel_corrupt_stream(s: dict[str, Path]) -> list[str]:
        wheel = _crafted_wheel(s)
        data = bytearray(wheel.read_bytes())
        with zipfile.ZipFile(wheel) as zf:
            info = zf.getinfo("openvino/libs/a.dll")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        for i in range(start, start + min(info.compress_size, 64)):
            data[i] ^= 0xA5
        wheel.write_bytes(bytes(data))
        return _cli("deps", str(wheel), "--root", "a.dll")
    add(Case("input-wheel-corrupt-stream", "exit codes", wheel_corrupt_stream, 4, may_write=()))

    def wheel_unknown_compression(s: dict[str, Path]) -> list[str]:
        wheel = _crafted_wheel(s)
        data = bytearray(wheel.read_bytes())
        with zipfile.ZipFile(wheel) as zf:
            infos = zf.infolist()
        for info in infos:  # compression method 99 in the local and the central headers
            data[info.header_offset + 8:info.header_offset + 10] = (99).to_bytes(2, "little")
        central = data.find(b"PK\x01\x02")
        while central >= 0:
            data[central + 10:central + 12] = (99).to_bytes(2, "little")
            central = data.find(b"PK\x01\x02", central + 4)
        wheel.write_bytes(bytes(data))
        return _cli("deps", str(wheel), "--root", "a.dll")
    add(Case("input-wheel-unknown-compression", "exit codes", wheel_unknown_compression, 4, may_write=()))

    add(Case("input-wheel-entries-clash", "exit codes",
             lambda s: _cli("deps", str(_crafted_wheel(s, extra={"openvino/libs/a.dll/x.dll": valid})),
                            "--root", "a.dll"), 4, may_write=()))
    add(Case("input-wheel-control-characters", "exit codes",
             lambda s: _cli("deps", str(_crafted_wheel(s, extra={"openvino/libs/\x01.dll": valid})),
                            "--root", "a.dll"), 4, may_write=()))

    def undecodable_name(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        (bundle / "bin" / os.fsdecode(b"\xff\xfe.dll")).write_bytes(valid)
        return _cli("verify", str(bundle))
    add(Case("bundle-undecodable-file-name", "bundle manifest", undecodable_name, 5))

    def undecodable_install(s: dict[str, Path]) -> list[str]:
        (s["release"] / os.fsdecode(b"\xff[b]x[red].dll")).write_bytes(valid)
        return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
    add(Case("input-undecodable-dll-name", "exit codes", undecodable_install, 0))
    add(Case("input-wheel-not-a-zip", "exit codes",
             lambda s: _cli("deps", str(_write(s["box"] / "x.whl", b"PK\x03\x04 not really"))), 4, may_write=()))
    add(Case("input-wheel-truncated", "exit codes",
             lambda s: _cli("deps", str(_write(s["box"] / "y.whl", _crafted_wheel(s).read_bytes()[:300]))), 4,
             may_write=()))

    for value in ("abc", "-1", "1e9", "99999999999999999999", "\u0661\u0662\u0663", " 12 34"):
        add(Case(f"input-source-date-epoch-{value.strip()[:12].encode('unicode_escape').decode()}", "exit codes",
                 lambda s: _extract(s, "-o", str(s["box"] / "out")), 4, env={"SOURCE_DATE_EPOCH": value},
                 may_write=()))

    add(Case("input-no-such-source", "exit codes", lambda s: _cli("deps", str(s["box"] / "nope")), 4))
    add(Case("input-unknown-feature", "exit codes",
             lambda s: _cli("deps", str(s["install"]), "-m", str(s["manifest"]), "--with", "warp"), 4))
    add(Case("input-missing-dependency", "exit codes",
             lambda s: (s["release"] / "c.dll").unlink() or _extract(s, "-o", str(s["box"] / "out")), 3,
             may_write=()))

    # ---- exit codes: bundle-manifest problems are 5
    for label, text in (("list", "[]"), ("string", '"x"'), ("null", "null"), ("number", "1"),
                        ("deep", "[" * 100_000 + "]" * 100_000), ("not-json", "{"), ("not-utf8", "\udcff"),
                        ("huge-int", '{"schema": "npuslim.bundle", "schema_version": ' + "9" * 5000 + "}")):
        if label == "not-utf8":
            def raw(s: dict[str, Path]) -> list[str]:
                bundle = _bundle(s)
                (bundle / "npuslim-bundle.json").write_bytes(b"\xff\xfe{}")
                return _cli("verify", str(bundle))
            add(Case(f"bundle-manifest-{label}", "bundle manifest", raw, 5))
        else:
            add(Case(f"bundle-manifest-{label}", "bundle manifest", lambda s, text=text: _raw_lock(s, text), 5))
    edits: dict[str, Callable[[dict], object]] = {
        "files-a-string": lambda d: d.update(files="bin/a.dll"),
        "files-null": lambda d: d.update(files=None),
        "path-a-number": lambda d: d["files"][0].update(path=7),
        "path-null": lambda d: d["files"][0].update(path=None),
        "path-empty": lambda d: d["files"][0].update(path=""),
        "size-a-string": lambda d: d["files"][0].update(size="12"),
        "size-negative": lambda d: d["files"][0].update(size=-1),
        "sha-not-hex": lambda d: d["files"][0].update(sha256="z" * 64),
        "requirements-a-dict": lambda d: d.update(requirements={"a": 1}),
        "requirements-item-a-string": lambda d: d.update(requirements=["x"]),
        "requirements-dlls-a-string": lambda d: d["requirements"][0].update(dlls="KERNEL32.dll")
        if d["requirements"] else d.update(requirements=[{"kind": "system", "name": "x", "dlls": 1, "note": ""}]),
        "missing-a-string": lambda d: d.update(missing="c.dll"),
        "missing-item-no-name": lambda d: d.update(missing=[{"required_by": []}]),
        "packed-a-number": lambda d: d.update(packed=5),
        "unknown-field": lambda d: d.update(extra=1),
        "schema-version-2": lambda d: d.update(schema_version=2),
        "no-files-key": lambda d: [d.pop("files"), None][1],
        "pack-record-a-list": lambda d: d["files"][0].update(pack=[1]),
        "chain-of-numbers": lambda d: d["files"][0].update(chain=[1, 2]),
        "deeply-nested-packed": lambda d: d.update(packed=json.loads("[" * 50 + "]" * 50)),
    }
    for label, edit in edits.items():
        add(Case(f"bundle-manifest-{label}", "bundle manifest", lambda s, edit=edit: _edit_lock(s, edit), 5))
    add(Case("bundle-not-a-folder", "bundle manifest", lambda s: _cli("verify", str(s["box"] / "secret.txt")), 5))
    add(Case("bundle-no-manifest", "bundle manifest", lambda s: _cli("verify", str(s["install"])), 5))

    def tampered(s: dict[str, Path]) -> list[str]:
        bundle = _bundle(s)
        _write(bundle / "bin" / "c.dll", valid[:536])
        return _cli("verify", str(bundle))
    add(Case("bundle-dll-cut-to-536-bytes", "bundle manifest", tampered, 5))

    # ---- bad command lines are 2, one line
    for label, args in (
        ("extract-without-out", ["extract", "{install}", "-m", "{manifest}"]),
        ("unknown-option", ["deps", "--bogus"]),
        ("unknown-command", ["frobnicate"]),
        ("bad-format", ["deps", "--format", "xml"]),
        ("verify-without-bundle", ["verify"]),
        ("verify-timeout-zero", ["verify", "{install}", "--load", "--timeout", "0"]),
        ("pack-without-bundle", ["pack"]),
        ("extract-out-without-value", ["extract", "-o"]),
    ):
        add(Case(f"usage-{label}", "exit codes",
                 lambda s, args=args: [a.format(install=s["install"], manifest=s["manifest"]) for a in args], 2))

    # ---- markup, encodings, debug
    def markup_import(s: dict[str, Path]) -> list[str]:
        _write(s["release"] / "c.dll", build_pe(("[/x].dll", "[bold]y.dll", "KERNEL32.dll")))
        return _cli("deps", str(s["install"]), "-m", str(s["manifest"]))
    add(Case("markup-import-names", "exit codes", markup_import, 3, one_line=False))

    def markup_path(s: dict[str, Path]) -> list[str]:
        odd = s["box"] / "[/b]inst[red]"
        shutil.copytree(s["install"], odd)
        return _extract(s, "-o", str(s["box"] / "out" / "[/b]x"), source=str(odd))
    add(Case("markup-paths", "exit codes", markup_path, 0))

    def markup_error(s: dict[str, Path]) -> list[str]:
        return _cli("deps", str(s["box"] / "[/b]nope[/]"))
    add(Case("markup-in-an-error", "exit codes", markup_error, 4))

    add(Case("encoding-ascii-stdout", "exit codes",
             lambda s: _cli("deps", str(s["install"]), "-m", str(s["manifest"])), 0,
             env={"PYTHONIOENCODING": "ascii"}))
    add(Case("encoding-ascii-error", "exit codes", lambda s: _cli("deps", str(s["box"] / "n\u00f6pe\u00b7")), 4,
             env={"PYTHONIOENCODING": "ascii"}))
    for code, setup in ((4, lambda s: _cli("deps", str(s["box"] / "nope"))),
                        (5, lambda s: _cli("verify", str(s["install"]))),
                        (7, lambda s: _extract(s, "-o", str(s["box"] / "secret.txt" / "x"))),
                        (4, _manifest_case("- 1\n"))):
        add(Case(f"debug-keeps-exit-{code}-{len(out)}", "exit codes", setup, code, env={"NPUSLIM_DEBUG": "1"},
                 one_line=False, may_write=()))
    add(Case("debug-flag-keeps-exit-4", "exit codes",
             lambda s: ["--debug", "deps", str(s["box"] / "nope")], 4, one_line=False))
    return out


# ----------------------------------------------------------------- running


def _preexec(fsize: str | None) -> Callable[[], None] | None:
    if not fsize:
        return None

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fsize), int(fsize)))
    return limit


def run_case(case: Case, workdir: Path) -> Outcome:
    """Build the case's sandbox under ``workdir``, run it, and judge it."""
    box = workdir / case.name
    s = base_sandbox(box)
    cache = box / "cache"
    args = case.setup(s)
    before = snapshot(box, (cache, box / "home", *(box / w for w in case.may_write)))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(box / "home"),
           "NPUSLIM_CACHE_DIR": str(cache), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb",
           "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    env.update({k: v.format(box=box) for k, v in case.env.items()})
    fsize = env.pop("NPUSLIM_TEST_FSIZE", None)
    cmd = [sys.executable, "-m", "npuslim", *args]
    problems: list[str] = []
    start = time.monotonic()
    stdout_target: int | object = subprocess.PIPE
    full = None
    if case.stdout == "full":
        full = open("/dev/full", "w")
        stdout_target = full
    elif case.stdout == "closed":
        stdout_target = None
    try:
        if case.stdout == "closed":
            # the child starts with file descriptor 1 closed
            proc = subprocess.Popen(["/bin/sh", "-c", 'exec "$@" >&-', "sh", *cmd], stdout=None,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=box,
                                    preexec_fn=_preexec(fsize))
        elif case.stdout == "early-close":
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    env=env, cwd=box, preexec_fn=_preexec(fsize))
            assert proc.stdout is not None
            proc.stdout.read(1)
            proc.stdout.close()  # like `| head -c1`
        else:
            proc = subprocess.Popen(cmd, stdout=stdout_target, stderr=subprocess.PIPE,  # type: ignore[arg-type]
                                    stdin=subprocess.DEVNULL, env=env, cwd=box, preexec_fn=_preexec(fsize))
        try:
            if case.stdout == "early-close":
                _, err_b = proc.communicate(timeout=HANG_GUARD)
                out_b = b""
            else:
                out_b, err_b = proc.communicate(timeout=HANG_GUARD)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out_b, err_b = proc.communicate()
            code = None
            problems.append("hang")
    finally:
        if full is not None:
            full.close()
    seconds = time.monotonic() - start
    stdout = (out_b or b"").decode("utf-8", "replace")
    stderr = (err_b or b"").decode("utf-8", "replace")
    completed = subprocess.CompletedProcess(cmd, code, stdout, stderr)
    if "Traceback" in stderr + stdout and case.one_line:
        problems.append("traceback")
    if code is not None:
        expected = case.code if isinstance(case.code, tuple) else (case.code,)
        if code not in expected:
            problems.append(f"wrong exit code {code}, expected {case.code}")
        if code not in (0, 3, 5) and case.one_line:
            lines = _lines(completed)
            if len(lines) != 1 or not lines[0].startswith("npuslim: error: "):
                problems.append(f"not one error line: {lines[:3]}")
    if (box / "secret.txt").read_bytes() != SECRET:
        problems.append("write outside: secret.txt changed")
    after = snapshot(box, (cache, box / "home", *(box / w for w in case.may_write)))
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        problems.append(f"write outside: {', '.join(changed[:5])}")
    if case.check is not None and code is not None:
        extra = case.check(s, completed)
        if extra:
            problems.append(extra)
    return Outcome(case, code, stdout, stderr, seconds, problems)


def corpus_size(workdir: Path) -> tuple[int, int]:
    """(files, bytes) of every input the cases generated (sandboxes minus the cache and outputs)."""
    files = size = 0
    for path in workdir.rglob("*"):
        parts = set(path.relative_to(workdir).parts)
        if parts & {"cache", "out", "home"} or not path.is_file() or path.is_symlink():
            continue
        files += 1
        size += path.stat().st_size
    return files, size


def summarise(outcomes: list[Outcome], workdir: Path) -> str:
    def count(prefix: str) -> int:
        return sum(1 for o in outcomes if any(p.startswith(prefix) for p in o.problems))

    files, size = corpus_size(workdir)
    classes: dict[str, int] = {}
    for o in outcomes:
        classes[o.case.klass] = classes.get(o.case.klass, 0) + 1
    lines = [
        f"inputs tried: {len(outcomes)} runs ({', '.join(f'{k}: {v}' for k, v in sorted(classes.items()))})",
        f"corpus: {files} generated files, {size / 1e6:.1f} MB",
        (f"tracebacks: {count('traceback')}, hangs: {count('hang')}, wrong exit codes: {count('wrong exit')}, "
        f"not one error line: {count('not one')}, writes outside: {count('write outside')}, "
        f"other checks failed: {count('JSON') + count('/')}"),
        (f"slowest: {max(outcomes, key=lambda o: o.seconds).case.name} "
        f"({max(o.seconds for o in outcomes):.1f} s); total {sum(o.seconds for o in outcomes):.0f} s"),
    ]
    for o in outcomes:
        if o.problems:
            lines.append(f"  FAIL {o.case.name}: {'; '.join(o.problems)} :: {o.stderr.strip()[-300:]}")
    return "\n".join(lines)


def main() -> int:
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="npuslim-corpus-"))
    try:
        outcomes = [run_case(case, workdir) for case in cases()]
        print(summarise(outcomes, workdir))
        return 1 if any(o.problems for o in outcomes) else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
