"""The size budget: does a bundle (or a packed bundle, or its archive) fit in N bytes?

A budget is one limit applied to one or more named subjects (``bundle``;
after pack, ``packed bundle`` and ``archive``). A subject's size is the sum of
the files it ships: the lock file, the SBOM and the size reports
describe the bundle and are not counted. Each subject keeps its five largest
files, so a failed check can say where the bytes went. Pure functions over
the lock file (lock) or a plan; ``enforce`` raises ``BudgetError``.

The JSON form (``budget_to_dict``) follows ``npuslim/schemas/budget.schema.json``.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npuslim.errors import BudgetError, InputError
from npuslim.formats.lock import BundleLock
from npuslim.units import format_size, parse_budget, percent

if TYPE_CHECKING:
    from npuslim.knowledge.manifest import Manifest

BUDGET_SCHEMA_VERSION = 1
LARGEST = 5

WITHIN = "within"
OVER = "over"


@dataclass(frozen=True)
class Cost:
    """One file and the bytes it costs its subject."""

    path: str
    size: int


@dataclass(frozen=True)
class Subject:
    """Something the budget applies to: its total and its largest files."""

    name: str
    size: int
    files: int
    largest: tuple[Cost, ...]
    path: str | None = None
    measured_as: str = "bytes on disk"


@dataclass(frozen=True)
class BudgetReport:
    """A limit (as written and in bytes), where it came from, and the subjects it was checked on."""

    limit: int
    limit_text: str
    origin: str
    subjects: tuple[Subject, ...]

    @property
    def over(self) -> tuple[Subject, ...]:
        return tuple(s for s in self.subjects if s.size > self.limit)

    @property
    def verdict(self) -> str:
        return OVER if self.over else WITHIN


def budget_limit(max_size: str | None, manifest: Manifest | None) -> tuple[int, str, str] | None:
    """(bytes, as written, origin) from ``--max-size``, else the manifest's ``budget:``, else ``None``.

    Raises ``InputError`` for a size that cannot be parsed.
    """
    if max_size is not None:
        return parse_budget(max_size), max_size, "--max-size"
    if manifest is not None and manifest.budget is not None:
        return (parse_budget(manifest.budget, where=f"{manifest.source}: budget"), manifest.budget,
                f"manifest {manifest.name}")
    return None


def measure(name: str, files: Iterable[tuple[str, int]], *, path: str | None = None,
            measured_as: str = "bytes on disk") -> Subject:
    """Sum ``files`` (bundle path, bytes) into a subject that keeps the five largest."""
    items = list(files)
    largest = sorted(items, key=lambda t: (-t[1], t[0]))[:LARGEST]
    return Subject(name, sum(size for _, size in items), len(items),
                   tuple(Cost(p, s) for p, s in largest), path, measured_as)


def lock_subject(lock: BundleLock, *, name: str = "bundle", path: str | None = None) -> Subject:
    """The files a lock file lists, at their current (possibly packed) sizes."""
    return measure(name, ((f.path, f.size) for f in lock.files), path=path)


def archive_subject(archive: Path, *, name: str = "archive") -> Subject:
    """An archive's size on disk; its largest members by compressed size (zip) or by
    uncompressed size (tar.xz: one solid stream has no per-member cost)."""
    try:
        size = archive.stat().st_size
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = [(i.filename, i.compress_size) for i in zf.infolist() if not i.is_dir()]
            how = "archive size; members by compressed size"
        else:
            with tarfile.open(archive) as tf:
                members = [(m.name, m.size) for m in tf.getmembers() if m.isfile()]
            how = "archive size; members by uncompressed size (xz is one solid stream)"
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise InputError(f"{archive}: cannot read the archive ({exc})") from exc
    sub = measure(name, members, path=str(archive), measured_as=how)
    return Subject(sub.name, size, sub.files, sub.largest, sub.path, how)


def check_budget(limit: int, subjects: Iterable[Subject], *, limit_text: str | None = None,
                 origin: str = "--max-size") -> BudgetReport:
    """The budget report for ``subjects`` against ``limit`` bytes; never raises."""
    return BudgetReport(limit, limit_text or format_size(limit), origin, tuple(subjects))


def bundle_budget(bundle: Path, lock: BundleLock, limit: int, *, limit_text: str | None = None,
                  origin: str = "--max-size", archive: Path | None = None,
                  name: str = "bundle") -> BudgetReport:
    """What ``pack --max-size`` checks: the bundle as its manifest lists it now (call it
    ``packed bundle`` after pack), and the archive when one was written."""
    subjects = [lock_subject(lock, name=name, path=str(bundle))]
    if archive is not None:
        subjects.append(archive_subject(archive))
    return check_budget(limit, subjects, limit_text=limit_text, origin=origin)


def enforce(report: BudgetReport) -> None:
    """Raise ``BudgetError`` naming every subject over the limit, with by how much."""
    over = report.over
    if not over:
        return
    parts = [f"the {s.name} is {format_size(s.size)}, {format_size(s.size - report.limit)} over" for s in over]
    raise BudgetError(f"over the size budget of {report.limit_text} ({format_size(report.limit)}, "
                      f"from {report.origin}): {'; '.join(parts)}")


def budget_to_dict(report: BudgetReport) -> dict[str, Any]:
    return {
        "schema": "npuslim.budget",
        "schema_version": BUDGET_SCHEMA_VERSION,
        "limit": report.limit,
        "limit_text": report.limit_text,
        "origin": report.origin,
        "verdict": report.verdict,
        "subjects": [
            {
                "name": s.name,
                "path": s.path,
                "size": s.size,
                "files": s.files,
                "measured_as": s.measured_as,
                "verdict": OVER if s.size > report.limit else WITHIN,
                "over_by": max(0, s.size - report.limit),
                "largest": [{"path": c.path, "size": c.size, "share": round(c.size / s.size, 4) if s.size else 0.0}
                            for c in s.largest],
            }
            for s in report.subjects
        ],
    }


def budget_lines(report: BudgetReport) -> list[str]:
    """Plain text for a terminal or a log: one line per subject, then its largest files."""
    lines = []
    for s in report.subjects:
        state = (f"OVER by {format_size(s.size - report.limit)}" if s.size > report.limit
                 else f"{format_size(report.limit - s.size)} to spare")
        lines.append(f"budget {report.limit_text} ({report.origin}): {s.name} {format_size(s.size)}: {state}")
        if s.size > report.limit:
            lines.append(f"  largest files of the {s.name}:")
            for c in s.largest:
                lines.append(f"    {format_size(c.size):>9}  {percent(c.size, s.size):>7}  {c.path}")
    return lines
