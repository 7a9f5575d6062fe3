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
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
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


def _plain(value: Any) -> Any:
    """A record's field as JSON: records by their own ``to_dict``, tuples as lists, enums as values."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


class _Record:
    """A part of the lock file: its fields in declaration order (the JSON's order); a field whose
    metadata says ``omit_none`` is left out of the JSON when it is ``None``."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = _plain(value)
        return out


_OMIT = {"omit_none": True}


@dataclass(frozen=True)
class WheelRecord(_Record):
    """A wheel a source came from: its file name and the sha256 of its bytes (no host path)."""

    name: str
    sha256: str

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> WheelRecord | None:
        return None if data is None else cls(data["name"], data["sha256"])


@dataclass(frozen=True)
class OnnxRuntimeRecord(_Record):
    """The second source: ONNX Runtime with OpenVINO's execution provider."""

    origin: str
    onnxruntime_version: str | None
    dll_dir: str
    built_against_openvino: str | None
    wheel: WheelRecord | None = field(default=None, metadata=_OMIT)

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> OnnxRuntimeRecord | None:
        if data is None:
            return None
        return cls(data["origin"], data["onnxruntime_version"], data["dll_dir"], data["built_against_openvino"],
                   WheelRecord.of(data.get("wheel")))


@dataclass(frozen=True)
class SourceRecord(_Record):
    """Where a bundle came from: names, versions and hashes, never a path of the machine."""

    origin: str
    layout: str
    root: str
    openvino_version: str | None
    platform: Platform = field(default=Platform.WINDOWS, metadata=_OMIT)
    wheel: WheelRecord | None = field(default=None, metadata=_OMIT)
    size: int = 0
    size_measured_as: str = ""
    onnxruntime: OnnxRuntimeRecord | None = field(default=None, metadata=_OMIT)

    @classmethod
    def of(cls, data: dict[str, Any]) -> SourceRecord:
        return cls(data["origin"], data["layout"], data["root"], data["openvino_version"],
                   Platform(data.get("platform", Platform.WINDOWS)), WheelRecord.of(data.get("wheel")),
                   data["size"], data["size_measured_as"], OnnxRuntimeRecord.of(data.get("onnxruntime")))


@dataclass(frozen=True)
class ManifestRecord(_Record):
    """The manifest the bundle was planned from: its name, file name and sha256."""

    name: str
    path: str
    sha256: str


@dataclass(frozen=True)
class TargetRequirement(_Record):
    """What the target machine must provide (the MSVC runtime, the NPU driver, Windows, glibc ...)."""

    kind: str
    name: str
    dlls: tuple[str, ...]
    note: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> TargetRequirement:
        return cls(data["kind"], data["name"], tuple(data["dlls"]), data["note"])


@dataclass(frozen=True)
class MissingRecord(_Record):
    """A dependency that was missing when the bundle was made (``--allow-missing``)."""

    name: str
    required_by: tuple[str, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> MissingRecord:
        return cls(data["name"], tuple(data["required_by"]))


@dataclass(frozen=True)
class HeaderCount(_Record):
    kept: int
    total: int


@dataclass(frozen=True)
class Totals(_Record):
    files: int
    bytes: int


@dataclass(frozen=True)
class DroppedFeature(_Record):
    """A default feature the source cannot deliver, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class PackInput(_Record):
    """The bundle ``pack`` read: how it was named and the sha256 of its lock file."""

    path: str
    manifest_sha256: str


@dataclass(frozen=True)
class PackOptionsRecord(_Record):
    strip: bool
    upx: bool
    upx_level: str
    upx_force_cfg: bool
    upx_exclude: tuple[str, ...]
    archive: str
    compare_download: bool

    @classmethod
    def of(cls, data: dict[str, Any]) -> PackOptionsRecord:
        return cls(data["strip"], data["upx"], data["upx_level"], data["upx_force_cfg"], tuple(data["upx_exclude"]),
                   data["archive"], data["compare_download"])


@dataclass(frozen=True)
class UpxRecord(_Record):
    path: str
    version: str


@dataclass(frozen=True)
class PackedRecord(_Record):
    """Set by ``pack``: the tool, its input and options, and the UPX it used (``None``: no UPX asked)."""

    tool_version: str
    input: PackInput
    options: PackOptionsRecord
    upx: UpxRecord | None

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> PackedRecord | None:
        if data is None:
            return None
        upx = data.get("upx")
        return cls(data["tool_version"], PackInput(**data["input"]), PackOptionsRecord.of(data["options"]),
                   UpxRecord(**upx) if upx is not None else None)


@dataclass(frozen=True)
class BudgetShare(_Record):
    path: str
    size: int
    share: float


@dataclass(frozen=True)
class BudgetSubject(_Record):
    name: str
    path: str | None
    size: int
    files: int
    measured_as: str
    verdict: str
    over_by: int
    largest: tuple[BudgetShare, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> BudgetSubject:
        return cls(data["name"], data["path"], data["size"], data["files"], data["measured_as"], data["verdict"],
                   data["over_by"], tuple(BudgetShare(**share) for share in data["largest"]))


@dataclass(frozen=True)
class BudgetRecord(_Record):
    """The size budget checked last (``npuslim/schemas/budget.schema.json``)."""

    limit: int
    limit_text: str
    origin: str
    verdict: str
    subjects: tuple[BudgetSubject, ...]
    schema: str = "npuslim.budget"
    schema_version: int = 1

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> BudgetRecord | None:
        if data is None:
            return None
        return cls(data["limit"], data["limit_text"], data["origin"], data["verdict"],
                   tuple(BudgetSubject.of(s) for s in data["subjects"]), data["schema"], data["schema_version"])

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        return {"schema": data.pop("schema"), "schema_version": data.pop("schema_version"), **data}


@dataclass(frozen=True)
class BundleLock:
    tool_version: str
    created: str
    source: SourceRecord
    manifest: ManifestRecord
    features: tuple[str, ...]
    files: tuple[LockedFile, ...]
    requirements: tuple[TargetRequirement, ...]
    missing: tuple[MissingRecord, ...]
    headers: HeaderCount | None
    warnings: tuple[str, ...]
    totals: Totals
    packed: PackedRecord | None = None
    features_requested: tuple[str, ...] | None = None
    features_dropped: tuple[DroppedFeature, ...] = ()
    budget: BudgetRecord | None = None  # the size budget checked last
    schema: str = field(default="npuslim.bundle")
    schema_version: int = field(default=BUNDLE_SCHEMA_VERSION)

    @property
    def platform(self) -> Platform:
        """What the bundle is for, as recorded when it was made."""
        return self.source.platform

    def with_files(self, files: tuple[LockedFile, ...], **changes: Any) -> BundleLock:
        return replace(self, files=files, totals=Totals(len(files), sum(f.size for f in files)), **changes)


def to_dict(lock: BundleLock) -> dict[str, Any]:
    ordered: dict[str, Any] = {"schema": lock.schema, "schema_version": lock.schema_version}
    for f in fields(lock):
        if f.name in ("schema", "schema_version"):
            continue
        value = getattr(lock, f.name)
        if f.name == "files":
            ordered["files"] = [_file_dict(x) for x in value]
        else:
            ordered[f.name] = _plain(value)
    return ordered


def _file_dict(locked: LockedFile) -> dict[str, Any]:
    data = asdict(locked)
    data["chain"] = list(data["chain"])
    return data


def to_json(lock: BundleLock) -> str:
    return json.dumps(to_dict(lock), indent=2) + "\n"


def from_dict(data: dict[str, Any]) -> BundleLock:
    files = []
    for entry in data["files"]:
        f = dict(entry)
        pack = f.pop("pack", None)
        f["chain"] = tuple(f.get("chain", ()))
        files.append(LockedFile(**f, pack=PackRecord(**pack) if pack else None))
    headers = data.get("headers")
    return BundleLock(
        tool_version=data["tool_version"], created=data["created"], source=SourceRecord.of(data["source"]),
        manifest=ManifestRecord(**data["manifest"]), features=tuple(data["features"]), files=tuple(files),
        requirements=tuple(TargetRequirement.of(r) for r in data["requirements"]),
        missing=tuple(MissingRecord.of(m) for m in data["missing"]),
        headers=HeaderCount(**headers) if headers is not None else None,
        warnings=tuple(data.get("warnings", ())), totals=Totals(**data["totals"]),
        packed=PackedRecord.of(data.get("packed")), budget=BudgetRecord.of(data.get("budget")),
        features_requested=(tuple(data["features_requested"]) if data.get("features_requested") is not None
                            else None),
        features_dropped=tuple(DroppedFeature(**d) for d in data.get("features_dropped", ())),
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
