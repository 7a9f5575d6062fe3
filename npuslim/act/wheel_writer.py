"""Writing a planned slim wheel: a zip beside the target, RECORD last, then one rename.

Members are copied from the official wheel (streamed, never unpacked on
disk) or written from the plan's data, deflated, each hashed as it is
written; RECORD lists every file with its ``sha256=`` digest (urlsafe
base64 without padding, as the wheel format asks) and size, and itself with
neither. The wheel appears whole in DIST or not at all.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from npuslim.atomic import replacing
from npuslim.errors import InputError, OutputError, os_reason
from npuslim.paths import open_regular
from npuslim.plan.wheel import WheelEntry, WheelPlan
from npuslim.progress import ProgressFn, Reporter

# 2000-01-01: zip times before 1980 are refused, and a fixed time makes the wheel reproducible.
_DATE = (2000, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class WrittenWheel:
    """The slim wheel written: its path, size, and the number of files it holds."""

    path: Path
    size: int
    files: int


def record_hash(data_digest: bytes) -> str:
    """A RECORD hash field: ``sha256=`` and the urlsafe base64 digest without ``=`` padding."""
    return "sha256=" + base64.urlsafe_b64encode(data_digest).rstrip(b"=").decode("ascii")


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _chunks(entry: WheelEntry, source: zipfile.ZipFile) -> Iterator[bytes]:
    if entry.data is not None:
        yield entry.data
        return
    assert entry.source is not None
    try:
        with source.open(entry.source) as fh:
            while chunk := fh.read(1 << 20):
                yield chunk
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(f"{entry.source}: cannot be read from the official wheel ({exc})") from exc


def _write_entries(plan: WheelPlan, out: zipfile.ZipFile, reporter: Reporter) -> list[str]:
    rows = []
    with open_regular(plan.source_wheel) as fh, zipfile.ZipFile(fh) as source, \
            reporter.step("write", plan.filename, total=len(plan.entries), unit="files") as step:
        for entry in plan.entries:
            digest, size = hashlib.sha256(), 0
            with out.open(_info(entry.name), "w", force_zip64=True) as dest:
                for chunk in _chunks(entry, source):
                    digest.update(chunk)
                    size += len(chunk)
                    dest.write(chunk)
            rows.append(f"{entry.name},{record_hash(digest.digest())},{size}")
            reporter.advance("write", plan.filename, 1)
        step.detail = f"{len(plan.entries)} files"
    return rows


def write_wheel(plan: WheelPlan, dist: Path, *, progress: ProgressFn | None = None) -> WrittenWheel:
    """Write ``plan`` as ``dist/<plan.filename>`` (``dist`` created when missing, and removed again
    when the wheel could not be written into it; a wheel of the same name replaced); ``OutputError``
    when ``dist`` cannot be written."""
    target = dist / plan.filename
    created = [p for p in (dist, *dist.parents) if not p.exists()]  # innermost first
    try:
        dist.mkdir(parents=True, exist_ok=True)
        with replacing(target) as tmp, \
                zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as out:
                rows = _write_entries(plan, out, Reporter(progress))
                record = f"{plan.dist_info}/RECORD"
                rows.append(f"{record},,")
                out.writestr(_info(record), "\n".join(rows) + "\n")
        return WrittenWheel(target, target.stat().st_size, len(rows))
    except BaseException as exc:  # Ctrl-C too: a folder made for the wheel is not left empty
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only ever an empty one
        if isinstance(exc, OSError):
            raise OutputError(f"{target}: cannot write the wheel: {os_reason(exc)}") from exc
        raise
