"""One thing wrong with a bundle, as every check reports it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str      # the file (relative to the bundle) or folder it is about
    kind: str      # missing, size, sha256, extra, symlink, unresolved, missing-symbol, rpath, link, ...
    message: str   # one line for a person
