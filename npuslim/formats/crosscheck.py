"""A second, independent PE parser (LIEF) checks every binary that npuslim rewrote.

pefile reads what npuslim writes; if both pefile and LIEF see the same import
list, a rewrite error would have to fool two implementations. LIEF costs about
a second to import, so only the commands that modify binaries load it.
"""

from __future__ import annotations

from pathlib import Path

from npuslim.errors import NpuslimError


def lief_imports(path: Path) -> set[str]:
    """Lower-cased names of the DLLs ``path`` imports or delay-imports, as LIEF reads them."""
    import lief

    lief.logging.disable()
    binary = lief.PE.parse(str(path))
    if binary is None:
        raise NpuslimError(f"{path}: LIEF cannot parse the rewritten file")
    entries = list(binary.imports) + list(getattr(binary, "delay_imports", []))
    return {_text(imp.name).lower() for imp in entries}


def _text(name: str | bytes) -> str:
    return name.decode("ascii", "replace") if isinstance(name, bytes) else name
