"""Small DLL graphs built with the mingw-w64 cross compiler.

``build_dll`` compiles one DLL from C source exporting one function and
importing functions of other DLLs. Imports are linked through import libraries
made by ``dlltool`` from a ``.def`` file, so a DLL can import a name that does
not exist yet (cycles), a name spelled in another case, or a delay-loaded DLL.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import require_tool

TRIPLETS = {"x64": "x86_64-w64-mingw32", "x86": "i686-w64-mingw32"}


@dataclass(frozen=True)
class Import:
    dll: str           # name written into the import table, e.g. "B.DLL"
    func: str          # function it exports
    delay: bool = False


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def build_dll(folder: Path, name: str, *, exports: str | None = None,
              imports: tuple[Import, ...] = (), machine: str = "x64",
              extra_source: str = "") -> Path:
    """Build ``folder/name`` exporting ``exports()`` (default: the stem) that calls every import."""
    triplet = TRIPLETS[machine]
    gcc = require_tool(f"{triplet}-gcc", "apt-get install gcc-mingw-w64-x86-64-win32 gcc-mingw-w64-i686-win32")
    dlltool = require_tool(f"{triplet}-dlltool", "apt-get install binutils-mingw-w64")
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(name).stem
    func = exports or stem
    work = folder / f".build-{stem}"
    work.mkdir(exist_ok=True)
    libs: list[str] = []
    decls, calls = [], []
    for i, imp in enumerate(imports):
        def_file = work / f"imp{i}.def"
        def_file.write_text(f"LIBRARY {imp.dll}\nEXPORTS\n  {imp.func}\n")
        lib = work / f"libimp{i}.a"
        flag = "--output-delaylib" if imp.delay else "--output-lib"
        _run([dlltool, "--input-def", str(def_file), flag, str(lib), "--dllname", imp.dll], work)
        libs.append(str(lib))
        decls.append(f"__declspec(dllimport) int {imp.func}(void);")
        calls.append(f"{imp.func}()")
    body = " + ".join(calls) if calls else "0"
    src = work / f"{stem}.c"
    src.write_text(
        "\n".join(decls)
        + f"\n{extra_source}\n__declspec(dllexport) int {func}(void) {{ return 1 + {body}; }}\n"
    )
    out = folder / name
    _run([gcc, "-shared", "-O1", "-o", str(out), str(src), *libs], work)
    if any(imp.delay for imp in imports):
        _fill_delay_import_directory(out, triplet)
    return out


def _fill_delay_import_directory(dll: Path, triplet: str) -> None:
    """Point the delay-import data directory at the descriptors GNU ld emitted.

    GNU ld links dlltool's delay-load descriptors but leaves data directory 13
    empty; MSVC's link and lld fill it in, and readers (pefile, objdump, the
    loader's tools) look there. One delay-loaded DLL per test DLL keeps the
    descriptor table a single 32-byte entry.
    """
    import pefile

    nm = require_tool(f"{triplet}-nm", "apt-get install binutils-mingw-w64")
    proc = subprocess.run([nm, str(dll)], capture_output=True, text=True, check=True)
    addresses = [int(line.split()[0], 16) for line in proc.stdout.splitlines()
                 if "__DELAY_IMPORT_DESCRIPTOR_" in line]
    if len(addresses) != 1:
        raise RuntimeError(f"{dll}: expected one delay-import descriptor, found {len(addresses)}")
    pe = pefile.PE(str(dll))
    entry = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"]]
    entry.VirtualAddress = addresses[0] - pe.OPTIONAL_HEADER.ImageBase
    entry.Size = 32
    data = pe.write()
    pe.close()
    dll.write_bytes(data)
