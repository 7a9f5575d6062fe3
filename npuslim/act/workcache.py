"""A content-addressed cache for pack's work: strip and UPX outputs, compressed archive members, xz sizes.

Layout under ``<npuslim cache>/pack/``:

- ``blobs/<sha256>``: file contents, named by their own sha256;
- ``entries/<kk>/<key>.json``: what one step produced, ``key`` being the sha256
  of everything the result depends on (the step, its tool and version, its
  options, the input's sha256).

Every write goes to a temporary file in the same folder and is renamed into
place, so a reader sees a whole entry or none, and two runs filling the same
entry at once both succeed. A blob is checked against its name when it is
used; a damaged blob or entry counts as a miss. A cache that cannot be
written (read-only, full disk) is not an error: the work is done again and
``problems`` says why the cache was not used.

Each kind of entry is a frozen ``CacheEntry`` dataclass written with its
``VERSION``; ``load`` reads it back whole or not at all: a missing, extra or
mistyped field, an unknown enum value or another version is a miss, and the
next ``store`` replaces the entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import shutil
import threading
import types
import typing
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar

from npuslim import atomic
from npuslim.errors import InputError, os_reason
from npuslim.paths import open_regular

CHUNK = 1 << 20
FORMAT = 1  # bump when an entry's meaning changes


def make_key(*parts: object) -> str:
    """The cache key of a step: the sha256 of its parts (strings, numbers, booleans, None)."""
    digest = hashlib.sha256(f"npuslim-pack-cache/{FORMAT}".encode())
    for part in parts:
        digest.update(b"\0" + json.dumps(part, sort_keys=True).encode())
    return digest.hexdigest()


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_path(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashing(src: Path, dest: Path, *, limit: int | None = None) -> tuple[str, int]:
    """Copy the regular file ``src`` to a new ``dest`` in one streamed read, hashing what was read:
    (its sha256, its size). With ``limit``, stops after ``limit + 1`` bytes (the caller sees the size
    is wrong). ``src`` that is not a regular file is an ``InputError``; so is a read error."""
    digest, done = hashlib.sha256(), 0
    with open_regular(src) as fin, open(dest, "xb") as fout:
        while chunk := _read(fin, src):
            digest.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if limit is not None and done > limit:
                break
    return digest.hexdigest(), done


def _read(fh: BinaryIO, path: Path) -> bytes:
    try:
        return fh.read(CHUNK)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {os_reason(exc)}") from exc


E = TypeVar("E", bound="CacheEntry")


def _field_value(value: object, hint: object) -> object:
    """``value`` as the type ``hint`` of a field (a ``TypeError``/``ValueError`` when it is not one)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            try:
                return _field_value(value, arm)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"{value!r} is none of {hint}")
    if hint is type(None) and value is None:
        return None
    if isinstance(hint, type) and issubclass(hint, enum.Enum) and isinstance(value, str):
        return hint(value)
    if hint is float and type(value) in (int, float):
        return float(value)  # type: ignore[arg-type]
    if hint in (bool, int, str) and type(value) is hint:
        return value
    raise TypeError(f"{value!r} is not {hint}")


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """What one step of pack produced, as a cache entry: subclasses are frozen dataclasses of
    ``bool``, ``int``, ``float``, ``str``, str enums and ``None`` unions; ``blob`` (when a
    subclass has it) names the blob of the step's output file."""

    VERSION: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls: type[E], data: object) -> E | None:
        """The entry ``data`` holds, or ``None`` unless every field is there, of its type, and nothing else."""
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names | {"version"}:
            return None
        if type(data["version"]) is not int or data["version"] != cls.VERSION:
            return None
        try:
            return cls(**{name: _field_value(data[name], hints[name]) for name in names})
        except (TypeError, ValueError):
            return None


class WorkCache:
    """A cache rooted at ``root``; ``root=None`` is a cache that never hits and never stores."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.problems: list[str] = []
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def _disable(self, why: str) -> None:
        with self._lock:
            if self.root is not None:
                self.problems.append(f"the pack cache {self.root} is not used: {why}")
                self.root = None

    # -- entries

    def load(self, key: str, kind: type[E], *, fetch: Path | None = None) -> tuple[E, Path | None] | None:
        """The ``kind`` entry stored under ``key`` and the checked path of its blob (``None``: it names
        none), or ``None``: absent, not a whole ``kind`` entry (see ``CacheEntry.from_dict``), or its
        blob is damaged. Counted as one hit or one miss. With ``fetch``, the blob is copied there
        while it is hashed, and that private copy is the path returned: the bytes the caller works
        on are the bytes that were checked, whatever happens to the cache meanwhile."""
        if self.root is None:
            return None
        entry = kind.from_dict(self._read(key))
        blob = getattr(entry, "blob", None)
        if not isinstance(blob, str):
            found = None
        elif fetch is not None:
            found = self.fetch_blob(blob, fetch)
        else:
            found = self.blob_path(blob)
        if entry is None or (blob is not None and found is None):
            self._count(hit=False)
            return None
        self._count(hit=True)
        return entry, found

    def store(self, key: str, entry: CacheEntry) -> None:
        """Keep ``entry`` under ``key`` (a whole file, replacing what was there)."""
        if self.root is None:
            return
        folder = self.root / "entries" / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            atomic.write_text(folder / f"{key}.json", json.dumps(entry.to_dict(), sort_keys=True))
        except OSError as exc:
            self._disable(exc.strerror or str(exc))

    def _read(self, key: str) -> object:
        assert self.root is not None
        try:
            return json.loads((self.root / "entries" / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    # -- blobs

    def blob_path(self, sha: str) -> Path | None:
        """The blob ``sha`` if it is present and whole (its size and hash are checked)."""
        if self.root is None or len(sha) != 64:
            return None
        path = self.root / "blobs" / sha[:2] / sha
        try:
            if sha256_path(path) == sha:
                return path
        except OSError:
            return None
        with contextlib.suppress(OSError):  # damaged: drop it so the next store replaces it
            path.unlink()
        return None

    def fetch_blob(self, sha: str, dest: Path) -> Path | None:
        """A private copy at ``dest`` of the blob ``sha``, hashed as it is copied (``None``, and no
        ``dest``, when it is absent or damaged)."""
        if self.root is None or len(sha) != 64:
            return None
        try:
            got, _ = copy_hashing(self.root / "blobs" / sha[:2] / sha, dest)
        except (OSError, InputError):
            dest.unlink(missing_ok=True)
            return None
        if got == sha:
            return dest
        dest.unlink(missing_ok=True)
        return None

    def put_blob_bytes(self, data: bytes | bytearray | memoryview, sha: str | None = None) -> str:
        """Store ``data``; returns its sha256 (stored or not)."""
        sha = sha or sha256_bytes(data)
        if self.root is None:
            return sha
        folder = self.root / "blobs" / sha[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic.replacing(folder / sha) as tmp:
                tmp.write_bytes(data)
        except OSError as exc:
            self._disable(exc.strerror or str(exc))
        return sha

    def put_blob_file(self, path: Path, sha: str) -> None:
        """Store a copy of ``path`` whose sha256 the caller knows."""
        if self.root is None:
            return
        folder = self.root / "blobs" / sha[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic.replacing(folder / sha) as tmp:
                shutil.copyfile(path, tmp)
        except OSError as exc:
            self._disable(exc.strerror or str(exc))


def open_cache(root: Path | None) -> WorkCache:
    """A ``WorkCache`` at ``root``, or a disabled one (with the reason) when the folder cannot be made."""
    if root is None:
        return WorkCache(None)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        cache = WorkCache(None)
        cache.problems.append(f"the pack cache {root} is not used: {exc.strerror or exc}")
        return cache
    return WorkCache(root)

