"""Small DLL graphs built with the mingw-w64 cross compiler.

``build_dll`` compiles one DLL from C source exporting one function and
importing functions of other DLLs. Imports are linked through import libraries
made by ``dlltool`` from a ``.def`` file, so a DLL can import a name that does
not exist yet (cycles), a name spelled in another case, or a delay-loaded DLL.

Built DLLs are cached by content: the key is the sha256 of everything the
output depends on (the C source, each import's ``.def`` text and dlltool mode,
the DLL's name, the compiler flags, ``gcc --version`` and ``dlltool --version``
of the triplet, the delay-import fix-up and pefile's version). A hit is a copy
from ``<test cache>/mingw/`` (``NPUSLIM_TEST_CACHE``, else
``~/.cache/npuslim-tests``, as in tests/conftest.py) and starts no compiler; a
miss builds and then publishes the file with an atomic rename, so concurrent
runs never see half a DLL. ``NPUSLIM_TEST_MINGW_CACHE=0`` builds every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.support.tools import require_tool

TRIPLETS = {"x64": "x86_64-w64-mingw32", "x86": "i686-w64-mingw32"}
GCC_FLAGS = ("-shared", "-O1")
CACHE_FORMAT = 1  # bump when build_dll changes how it builds (anything the key does not already hold)


def cache_dir() -> Path | None:
    """Where built DLLs are kept; ``None`` when the cache is turned off."""
    if os.environ.get("NPUSLIM_TEST_MINGW_CACHE", "1") == "0":
        return None
    root = Path(os.environ.get("NPUSLIM_TEST_CACHE", Path.home() / ".cache" / "npuslim-tests"))
    return root / "mingw"


@cache
def tool_version(path: str) -> str:
    """The first line of ``PATH --version`` (the compiler's identity in the cache key)."""
    proc = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()[0] if proc.stdout else ""


def cache_key(**parts: object) -> str:
    return hashlib.sha256(json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True).encode()).hexdigest()


def _publish(built: Path, cached: Path) -> None:
    """Copy ``built`` into the cache under ``cached``, atomically (a temporary name, then a rename)."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, built.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, cached)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    defs: list[tuple[str, str, str]] = []
    decls, calls = [], []
    for imp in imports:
        flag = "--output-delaylib" if imp.delay else "--output-lib"
        defs.append((f"LIBRARY {imp.dll}\nEXPORTS\n  {imp.func}\n", flag, imp.dll))
        decls.append(f"__declspec(dllimport) int {imp.func}(void);")
        calls.append(f"{imp.func}()")
    body = " + ".join(calls) if calls else "0"
    source = ("\n".join(decls)
              + f"\n{extra_source}\n__declspec(dllexport) int {func}(void) {{ return 1 + {body}; }}\n")
    delay = any(imp.delay for imp in imports)
    out = folder / name
    where = cache_dir()
    cached = None
    if where is not None:
        import pefile

        key = cache_key(name=name, triplet=triplet, source=source, defs=defs, flags=GCC_FLAGS,
                        gcc=tool_version(gcc), dlltool=tool_version(dlltool), delay_fixup=delay,
                        pefile=pefile.__version__)
        cached = where / f"{key}.dll"
        if cached.is_file():
            shutil.copyfile(cached, out)
            return out
    work = folder / f".build-{stem}"
    work.mkdir(exist_ok=True)
    libs: list[str] = []
    for i, (text, flag, dll) in enumerate(defs):
        (work / f"imp{i}.def").write_text(text)
        _run([dlltool, "--input-def", f"imp{i}.def", flag, f"libimp{i}.a", "--dllname", dll], work)
        libs.append(f"libimp{i}.a")
    (work / f"{stem}.c").write_text(source)
    # names relative to the build folder: no temporary path is written into the DLL
    _run([gcc, *GCC_FLAGS, "-o", str(out), f"{stem}.c", *libs], work)
    if delay:
        _fill_delay_import_directory(out, triplet)
    if cached is not None:
        _publish(out, cached)
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
