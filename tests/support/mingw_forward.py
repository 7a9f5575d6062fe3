"""DLLs that forward exports, built with mingw-w64: a module ``.def`` file with ``f = b.f``
makes GNU ld write the export ``f`` as the forwarder text ``b.f`` (no code behind it).

Cached like ``tests.support.mingw.build_dll`` (same folder, a key over everything the output
depends on).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.mingw import TRIPLETS, _publish, _run, cache_dir, cache_key, tool_version
from tests.support.tools import require_tool


def build_forwarding_dll(folder: Path, name: str, *, forwards: dict[str, str], own: str = "own",
                         machine: str = "x64") -> Path:
    """Build ``folder/name`` exporting the function ``own`` and each ``forwards`` name as a
    forwarder to its ``DLL.symbol`` text (``{"f": "b.f"}``: ``f`` forwards to ``b.dll!f``)."""
    triplet = TRIPLETS[machine]
    gcc = require_tool(f"{triplet}-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    folder.mkdir(parents=True, exist_ok=True)
    source = f"__declspec(dllexport) int {own}(void) {{ return 1; }}\n"
    lines = [f"  {own}"] + [f"  {export} = {target}" for export, target in sorted(forwards.items())]
    module_def = f"LIBRARY {name}\nEXPORTS\n" + "\n".join(lines) + "\n"
    out = folder / name
    where = cache_dir()
    cached = None
    if where is not None:
        key = cache_key(kind="forwarding", name=name, triplet=triplet, source=source, module_def=module_def,
                        gcc=tool_version(gcc))
        cached = where / f"{key}.dll"
        if cached.is_file():
            shutil.copyfile(cached, out)
            return out
    work = folder / f".build-{Path(name).stem}"
    work.mkdir(exist_ok=True)
    (work / "exports.def").write_text(module_def)
    (work / "dll.c").write_text(source)
    _run([gcc, "-shared", "-O1", "-o", str(out), "dll.c", "exports.def"], work)
    if cached is not None:
        _publish(out, cached)
    return out
