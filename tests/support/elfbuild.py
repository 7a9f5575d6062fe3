"""Small ELF shared-object graphs built with the system gcc.

``build_so`` compiles one shared object exporting one function that calls a
function of each library it links against; DT_NEEDED is the SONAME of each
linked file, and DT_RPATH or DT_RUNPATH is set as asked (GNU ld's
``--disable-new-dtags`` / ``--enable-new-dtags``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.tools import require_tool


def build_so(folder: Path, name: str, *, soname: str | None = None, links: tuple[Path, ...] = (),
             rpath: str | None = None, runpath: str | None = None, cxx: bool = False,
             m32: bool = False) -> Path:
    """Build ``folder/name``; its exported function is named after the file (``lib_a_so_1``)."""
    gcc = require_tool("g++" if cxx else "gcc", "apt-get install gcc g++")
    folder.mkdir(parents=True, exist_ok=True)
    func = _func(name)
    calls = "".join(f"extern int {_func(p.name)}(void);\n" for p in links)
    body = " + ".join([f"{_func(p.name)}()" for p in links] + ["1"])
    extra = "#include <string>\nstatic std::string s(\"x\");\n" if cxx else ""
    lang = 'extern "C" ' if cxx else ""
    decl = calls.replace("extern int", f'{lang}int') if cxx else calls
    source = folder / f"{name}.{'cpp' if cxx else 'c'}"
    source.write_text(f"{extra}{decl}{lang}int {func}(void) {{ return {body}; }}\n")
    cmd = [gcc, "-shared", "-fPIC", "-o", str(folder / name), str(source)]
    if m32:
        cmd.insert(1, "-m32")
    if soname:
        cmd.append(f"-Wl,-soname,{soname}")
    if rpath:
        cmd += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{rpath}"]
    if runpath:
        cmd += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}"]
    cmd += [str(p) for p in links]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    source.unlink()
    return folder / name


def _func(name: str) -> str:
    return "f_" + "".join(c if c.isalnum() else "_" for c in name)
