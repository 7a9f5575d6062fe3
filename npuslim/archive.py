"""Reproducible archives of a bundle: sorted entries, fixed timestamps, normalised modes.

The same bundle archived twice gives byte-identical files. Timestamps are
``SOURCE_DATE_EPOCH`` when set, else 1980-01-01 (the earliest a zip can hold).
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

FORMATS = ("zip", "tar.xz", "none")
XZ_PRESET = 9
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z


def archive_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return max(int(value), _ZIP_EPOCH) if value.isdigit() else _ZIP_EPOCH


def archive_name(bundle: Path, fmt: str) -> Path:
    return bundle.parent / f"{bundle.name}.{fmt}"


def write_archive(bundle: Path, members: list[str], fmt: str, dest: Path) -> Path:
    """Archive ``members`` (paths relative to ``bundle``) under a top folder named like the bundle.

    Written to a temporary file beside ``dest`` and renamed: a failed run leaves
    no half archive.
    """
    if fmt not in FORMATS or fmt == "none":
        raise ValueError(f"archive format must be zip or tar.xz, not {fmt!r}")
    members = sorted(members)
    top = bundle.name
    epoch = archive_epoch()
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        if fmt == "zip":
            stamp = time.gmtime(epoch)[:6]
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
                for rel in members:
                    info = zipfile.ZipInfo(f"{top}/{rel}", date_time=stamp)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.create_system = 3
                    info.external_attr = (0o100644 << 16)
                    info.file_size = (bundle / rel).stat().st_size
                    with open(bundle / rel, "rb") as src, zf.open(info, "w", force_zip64=info.file_size > 2**31) as out:
                        shutil.copyfileobj(src, out, 1 << 20)
        else:
            dirs = sorted({str(Path(rel).parent) for rel in members} - {"."})
            all_dirs = sorted({p for d in dirs for p in _parents(d)})
            with tarfile.open(tmp, "w:xz", preset=9, format=tarfile.GNU_FORMAT) as tf:  # XZ_PRESET
                tf.addfile(_tarinfo(top, epoch, directory=True))
                for d in all_dirs:
                    tf.addfile(_tarinfo(f"{top}/{d}", epoch, directory=True))
                for rel in members:
                    entry = _tarinfo(f"{top}/{rel}", epoch, directory=False)
                    entry.size = (bundle / rel).stat().st_size
                    with open(bundle / rel, "rb") as src:
                        tf.addfile(entry, src)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _tarinfo(name: str, epoch: int, *, directory: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.mode = 0o644
    return info


def xz_size(path: Path) -> int:
    """Bytes of ``path`` compressed with xz at the preset archives use (streamed)."""
    comp = lzma.LZMACompressor(preset=XZ_PRESET)
    total = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            total += len(comp.compress(chunk))
    return total + len(comp.flush())
