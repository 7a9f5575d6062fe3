"""The sha256 of a file, for the checks: hashlib and the file alone (``act.staging`` has its own, but
importing it brings the planning code: a tenth of a second that ``verify`` does not need)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from npuslim.paths import open_regular

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """sha256 of a regular file (``InputError`` for anything else), read in chunks."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
