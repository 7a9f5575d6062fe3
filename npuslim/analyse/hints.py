"""String-scan hints: which files of the install a binary's strings name.

A DLL loaded with LoadLibrary leaves no trace in import tables, but its name is
usually a string in the loader. Finding ``openvino_intel_npu_compiler_loader``
in the plugin's bytes (ASCII or UTF-16) is a hint, never proof; hints are
reported apart from import-table facts.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

# Scanning costs a pass over the bytes per name; past this size a file is
# listed as not scanned instead (the 100 MB NPU compiler, say).
MAX_SCAN_BYTES = 64 * 1024 * 1024
_MAX_OCCURRENCES = 4096
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class Hint:
    """A file of the install whose name appears in the strings of ``found_in``."""

    name: str
    path: Path
    found_in: tuple[str, ...]


def _mentions(data: mmap.mmap, token: bytes, width: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """True when ``token`` occurs as a whole word (not inside a longer identifier) in ``ranges``."""
    return any(_mentions_in(data, token, width, off, off + size) for off, size in ranges)


def _mentions_in(data: mmap.mmap, token: bytes, width: int, start: int, stop: int) -> bool:
    for _ in range(_MAX_OCCURRENCES):
        at = data.find(token, start, stop)
        if at < 0:
            return False
        before = data[at - width] if at >= width else 0
        end = at + len(token)
        after = data[end] if end < len(data) else 0
        if before not in _WORD and after not in _WORD:
            return True
        start = at + 1
    return False


def _is_text(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan(binaries: list[tuple[Path, tuple[tuple[int, int], ...]]],
         candidates: dict[str, Path]) -> tuple[tuple[Hint, ...], tuple[Path, ...]]:
    """Look for each candidate (file name -> path) in the strings of ``binaries``.

    Each binary comes with the file ranges to search (its data sections, where
    string literals live; ``()`` means the whole file). Matches the name without
    ``.dll`` as a whole word, as ASCII and UTF-16LE, in its own spelling and
    lower-cased. Returns the hints and the binaries skipped for size.
    """
    found: dict[str, list[str]] = {}
    skipped: list[Path] = []
    for binary, ranges in binaries:
        try:
            size = binary.stat().st_size
            if size > MAX_SCAN_BYTES:
                skipped.append(binary)
                continue
            if size == 0:
                continue
            with open(binary, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                spans = tuple((o, s) for o, s in ranges if o < size) or ((0, size),)
                for name in candidates:
                    if name.lower() == binary.name.lower():
                        continue
                    if not _is_text(name):
                        continue  # a file name that is not valid text is not named in any string
                    stem = name[:-4] if name.lower().endswith(".dll") else name
                    spellings = {stem, stem.lower()}
                    for spelling in spellings:
                        if _mentions(data, spelling.encode("ascii", "ignore"), 1, spans) or _mentions(
                            data, spelling.encode("utf-16-le"), 2, spans
                        ):
                            found.setdefault(name, []).append(binary.name)
                            break
        except OSError:
            skipped.append(binary)
    hints = tuple(
        Hint(name=name, path=candidates[name], found_in=tuple(found[name]))
        for name in sorted(found, key=str.lower)
    )
    return hints, tuple(skipped)
