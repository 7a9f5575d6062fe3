"""Sizes for people: one place that formats bytes and parses ``--baseline 1.75GB``."""

from __future__ import annotations

import re

from npuslim.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def format_size(n: int) -> str:
    """Decimal units with three significant digits, as download pages show them: ``7.64 MB``."""
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 10**3), ("MB", 10**6), ("GB", 10**9)):
        if n < scale * 1000 or unit == "GB":
            value = n / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


# The largest size npuslim takes: far past any install, yet exact as an int and as a float.
MAX_SIZE_BYTES = 1 << 50
MAX_SIZE_TEXT = "1 PiB"
# A size is a few digits and a unit; longer text is refused before any parsing.
_MAX_SIZE_CHARS = 40
_SIZE = re.compile(r"\s*([0-9]{1,20}(?:\.[0-9]{1,12})?)\s*([A-Za-z]{0,3})\s*", re.ASCII)


def shown(text: object, limit: int = 30) -> str:
    """``text`` quoted for an error line, cut short when long."""
    quoted = repr(text)
    return quoted if len(quoted) <= limit else quoted[:limit - 3] + "..."


def parse_size(text: str, *, example: str = "1.75GB or 250MiB") -> int:
    """``"1.75GB"`` -> 1750000000; accepts B, kB, MB, GB and KiB, MiB, GiB in any case.

    ASCII digits and whitespace only; ``ValueError`` for anything else and for a size past
    ``MAX_SIZE_BYTES`` (exact decimal arithmetic: no float, so no infinity and no NaN).
    """
    m = _SIZE.fullmatch(text) if isinstance(text, str) and len(text) <= _MAX_SIZE_CHARS else None
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {shown(text)} (try {example})")
    from decimal import Decimal  # 6 ms to import: only a size to parse pays it

    value = int(Decimal(m.group(1)) * _UNITS[m.group(2).lower()])
    if value > MAX_SIZE_BYTES:
        raise ValueError(f"{shown(text)} is more than {MAX_SIZE_TEXT}: not a size npuslim takes")
    return value


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


# The size of the full OpenVINO install measured by the project that asked for
# npuslim; reports compare bundles against it.
BASELINE_BYTES = 1_750_000_000


def parse_budget(text: str | int, *, where: str = "--max-size") -> int:
    """A budget in bytes from ``50MB``, ``48MiB``, ``1.75GB`` or a plain byte count.

    Raises ``InputError`` naming ``where`` for anything else, zero and sizes past
    ``MAX_SIZE_BYTES`` included.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
        if value > MAX_SIZE_BYTES:
            raise InputError(f"{where}: {shown(text)} is more than {MAX_SIZE_TEXT}: not a size npuslim takes")
    else:
        try:
            value = parse_size(str(text) if isinstance(text, bool) else text, example="50MB, 48MiB or 1.75GB")
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    if value <= 0:
        raise InputError(f"{where}: a budget must be more than 0 bytes, not {shown(text)}")
    return value


# A time limit past a week is a mistake, not a wish; and it must stay a number the OS timers take.
MAX_SECONDS = 7 * 24 * 3600


def check_seconds(value: float, *, least: float) -> float:
    """``value`` when it is a finite number of seconds from ``least`` to ``MAX_SECONDS``, else ``ValueError``."""
    if not least <= value <= MAX_SECONDS:  # also refuses NaN, which compares false with everything
        raise ValueError(f"{shown(value)} is not a number of seconds from {least:g} to {MAX_SECONDS}")
    return value
