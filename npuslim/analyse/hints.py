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
# names that share a start this long (in characters) are searched in one pass
_GROUP_PREFIX = 5
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class Hint:
    """A file of the install whose name appears in the strings of ``found_in``."""

    name: str
    path: Path
    found_in: tuple[str, ...]


def _whole_word(data: mmap.mmap, at: int, token: bytes, width: int) -> bool:
    """True when ``token``, found at ``at``, is not inside a longer identifier."""
    before = data[at - width] if at >= width else 0
    end = at + len(token)
    after = data[end] if end < len(data) else 0
    return before not in _WORD and after not in _WORD


def _mentions(data: mmap.mmap, token: bytes, width: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """True when ``token`` occurs as a whole word (not inside a longer identifier) in ``ranges``."""
    return any(_mentions_in(data, token, width, off, off + size) for off, size in ranges)


def _mentions_in(data: mmap.mmap, token: bytes, width: int, start: int, stop: int) -> bool:
    for _ in range(_MAX_OCCURRENCES):
        at = data.find(token, start, stop)
        if at < 0:
            return False
        if _whole_word(data, at, token, width):
            return True
        start = at + 1
    return False


def _common_prefix(tokens: list[bytes]) -> bytes:
    first, last = min(tokens), max(tokens)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _found(data: mmap.mmap, tokens: list[bytes], width: int, ranges: tuple[tuple[int, int], ...]) -> set[bytes]:
    """The ``tokens`` that occur as whole words in ``ranges``.

    Tokens that share a start of at least ``_GROUP_PREFIX`` characters (``openvino_``: most of an
    install's names) are searched together: one pass for the shared start, then each token
    compared where it occurs. A shared start found more than ``_MAX_OCCURRENCES`` times in a range,
    and a token alone, is searched token by token.
    """
    groups: dict[bytes, list[bytes]] = {}
    for token in tokens:
        groups.setdefault(token[:_GROUP_PREFIX * width], []).append(token)
    found: set[bytes] = set()
    for group in groups.values():
        prefix = _common_prefix(group)
        if len(group) > 1 and len(prefix) >= _GROUP_PREFIX * width:
            found |= _found_together(data, group, prefix, width, ranges)
        else:
            found |= {t for t in group if _mentions(data, t, width, ranges)}
    return found


def _found_together(data: mmap.mmap, group: list[bytes], prefix: bytes, width: int,
                    ranges: tuple[tuple[int, int], ...]) -> set[bytes]:
    found: set[bytes] = set()
    for off, size in ranges:
        start, stop = off, off + size
        for _ in range(_MAX_OCCURRENCES):
            at = data.find(prefix, start, stop)
            if at < 0:
                break
            for token in group:
                if token not in found and at + len(token) <= stop and data[at:at + len(token)] == token \
                        and _whole_word(data, at, token, width):
                    found.add(token)
            if len(found) == len(group):
                return found
            start = at + 1
        else:  # the shared start is everywhere in this range: each token on its own there
            found |= {t for t in group if t not in found and _mentions(data, t, width, ((off, size),))}
    return found


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
                spellings: dict[str, tuple[list[bytes], list[bytes]]] = {}
                for name in candidates:
                    if name.lower() == binary.name.lower() or not _is_text(name):
                        continue  # a file name that is not valid text is not named in any string
                    stem = name[:-4] if name.lower().endswith(".dll") else name
                    forms = (stem, stem.lower())  # its own spelling and lower-cased; an empty one names nothing
                    spellings[name] = ([t for t in dict.fromkeys(f.encode("ascii", "ignore") for f in forms) if t],
                                       [t for t in dict.fromkeys(f.encode("utf-16-le") for f in forms) if t])
                in_ascii = _found(data, sorted({t for a, _ in spellings.values() for t in a}), 1, spans)
                in_utf16 = _found(data, sorted({t for _, u in spellings.values() for t in u}), 2, spans)
                for name, (ascii_forms, utf16_forms) in spellings.items():
                    if in_ascii.intersection(ascii_forms) or in_utf16.intersection(utf16_forms):
                        found.setdefault(name, []).append(binary.name)
        except OSError:
            skipped.append(binary)
    hints = tuple(
        Hint(name=name, path=candidates[name], found_in=tuple(found[name]))
        for name in sorted(found, key=str.lower)
    )
    return hints, tuple(skipped)
