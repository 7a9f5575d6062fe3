"""The lock file (``npuslim-bundle.json``) every bundle carries.

It records where the bundle came from and every file in it with its role,
size, sha256, file version, signature and CFG state, and the chain that pulled
it in. A bundle written by ``pack`` also records, in ``packed``, the options
and the sha256 of its input bundle's manifest, and for each file what pack did
(``PackRecord``) with the original size, sha256, signature and CFG state. The schema is
``npuslim/schemas/bundle.schema.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from npuslim.errors import VerifyError
from npuslim.paths import read_regular, relative_path
from npuslim.platforms import Platform
from npuslim.schema_check import validated_once

BUNDLE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PackRecord:
    """What ``pack`` did to one file; ``original_*`` are the values before."""

    original_size: int
    original_sha256: str
    original_signature: str | None = None
    original_cfg: bool | None = None
    original_xz: int | None = None
    after_strip: int | None = None
    stripped: bool = False
    upx: str | None = None           # packed | skipped | refused | failed; None: UPX not asked
    upx_skipped: str | None = None   # why UPX left it as it was
    upx_seconds: float | None = None  # pack v1 only; since v2 the time is in size-report.json
    cfg_disabled: bool = False
    signature_removed: bool = False
    image_size: int | None = None    # SizeOfImage: what a UPX-packed DLL decompresses at load
    xz_final: int | None = None      # xz -9 size of the file as packed (``--compare-download``)


@dataclass(frozen=True)
class LockedFile:
    path: str
    role: str
    size: int
    sha256: str
    reason: str
    chain: tuple[str, ...] = ()
    feature: str | None = None
    machine: str | None = None
    file_version: str | None = None
    signature: str | None = None
    cfg: bool | None = None
    debug_directory: bool | None = None
    pack: PackRecord | None = None
    link_to: str | None = None  # Linux link names: a symlink to this file of the same folder


@dataclass(frozen=True)
class BundleLock:
    tool_version: str
    created: str
    source: dict[str, Any]
    manifest: dict[str, Any]
    features: tuple[str, ...]
    files: tuple[LockedFile, ...]
    requirements: tuple[dict[str, Any], ...]
    missing: tuple[dict[str, Any], ...]
    headers: dict[str, Any] | None
    warnings: tuple[str, ...]
    totals: dict[str, Any]
    packed: dict[str, Any] | None = None
    features_requested: tuple[str, ...] | None = None
    features_dropped: tuple[dict[str, str], ...] = ()
    budget: dict[str, Any] | None = None  # the size budget checked last (npuslim/schemas/budget.schema.json)
    schema: str = field(default="npuslim.bundle")
    schema_version: int = field(default=BUNDLE_SCHEMA_VERSION)

    @property
    def platform(self) -> Platform:
        """What the bundle is for, as recorded when it was made (the schema allows only these values)."""
        return Platform(self.source.get("platform", Platform.WINDOWS))

    def with_files(self, files: tuple[LockedFile, ...], **changes: Any) -> BundleLock:
        totals = dict(self.totals)
        totals["files"] = len(files)
        totals["bytes"] = sum(f.size for f in files)
        return replace(self, files=files, totals=totals, **changes)


def to_dict(lock: BundleLock) -> dict[str, Any]:
    data = asdict(lock)
    ordered = {"schema": data.pop("schema"), "schema_version": data.pop("schema_version")}
    ordered.update(data)
    for f in ordered["files"]:
        f["chain"] = list(f["chain"])
    return ordered


def to_json(lock: BundleLock) -> str:
    return json.dumps(to_dict(lock), indent=2) + "\n"


def from_dict(data: dict[str, Any]) -> BundleLock:
    files = []
    for f in data["files"]:
        f = dict(f)
        pack = f.pop("pack", None)
        f["chain"] = tuple(f.get("chain", ()))
        files.append(LockedFile(**f, pack=PackRecord(**pack) if pack else None))
    return BundleLock(
        tool_version=data["tool_version"], created=data["created"], source=data["source"],
        manifest=data["manifest"], features=tuple(data["features"]), files=tuple(files),
        requirements=tuple(data["requirements"]), missing=tuple(data["missing"]),
        headers=data.get("headers"), warnings=tuple(data.get("warnings", ())), totals=data["totals"],
        packed=data.get("packed"), budget=data.get("budget"),
        features_requested=(tuple(data["features_requested"]) if data.get("features_requested") is not None
                            else None),
        features_dropped=tuple(data.get("features_dropped", ())),
    )


# A lock file lists a few hundred files: 64 MB is far beyond any real one.
MAX_LOCK_BYTES = 64 << 20


def read_lock(bundle: Path, name: str) -> BundleLock:
    """Load the lock file of ``bundle``; a ``VerifyError`` (exit 5) when absent or malformed.

    The whole document is checked against ``npuslim/schemas/bundle.schema.json``
    first (once per content: ``npuslim.schema_check.validated_once``), then every
    file path: relative, inside the bundle, listed once
    (case-insensitively, as on Windows). Nothing is trusted before that.
    """
    path = bundle / name
    if not bundle.is_dir():
        raise VerifyError(f"{bundle}: not a folder")
    if not path.exists() and not path.is_symlink():
        raise VerifyError(f"{bundle}: not an npuslim bundle ({name} is missing)")
    if path.is_symlink():
        raise VerifyError(f"{path}: is a symbolic link, not a lock file")
    raw = read_regular(path, limit=MAX_LOCK_BYTES, what="lock file", error=VerifyError)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise VerifyError(f"{path}: unreadable lock file ({reason})") from exc
    if not isinstance(data, dict) or data.get("schema") != "npuslim.bundle" \
            or data.get("schema_version") != BUNDLE_SCHEMA_VERSION:
        raise VerifyError(f"{path}: not a lock file of schema version {BUNDLE_SCHEMA_VERSION}")
    problem = validated_once(raw, data, "bundle")
    if problem is not None:
        raise VerifyError(f"{path}: malformed lock file: {problem}")
    seen: dict[str, str] = {}
    for entry in data["files"]:
        rel = relative_path(entry["path"], what=f"{path}: file", error=VerifyError)
        if rel != entry["path"]:
            raise VerifyError(f"{path}: file {entry['path'][:80]!r} is not a plain bundle path ({rel!r})")
        if rel.lower() in seen:
            raise VerifyError(f"{path}: {rel} is listed twice")
        seen[rel.lower()] = rel
    try:
        return from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerifyError(f"{path}: malformed lock file ({type(exc).__name__})") from exc
