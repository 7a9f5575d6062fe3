"""Wheels: fetched with pip into npuslim's cache and unpacked there, for every platform.

Both layouts (``npuslim.source.windows``, ``npuslim.source.linux``) get their
wheels here; only which entries are unpacked differs (``wanted``). A bare
project name (``openvino``) is its newest release on the index; the releases
pip lists are kept in the cache for ``RELEASES_TTL`` seconds, so a release that
does not exist is refused without asking the index again. Every pip run has a
timeout, and its progress (bytes, where pip can tell them) goes to a ``ProgressFn``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import lzma
import os
import shutil
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from npuslim.atomic import private_folder, write_text
from npuslim.errors import InputError, OutputError, ToolError, os_reason
from npuslim.paths import cache_dir, open_regular, relative_path
from npuslim.progress import ProgressFn, Reporter
from npuslim.source import requirements as req_text
from npuslim.source.install import DEFAULT_PLATFORM, DEFAULT_PYTHON_VERSION, compatible_platforms, platform_of_tag
from npuslim.tools import run_tool, stream_tool

# The largest official OpenVINO wheel (2026.4.1, win_amd64) unpacks to 243 MB and no
# entry of it compresses better than 11:1; a wheel past these bounds is refused unread.
MAX_UNPACKED_BYTES = 4 << 30
MAX_ENTRY_RATIO = 100
_RATIO_FLOOR = 1 << 20
MAX_WHEEL_ENTRIES = 100_000
# pip download of an 85 MB wheel on a slow line; pip index versions is one small page.
DOWNLOAD_TIMEOUT = 900.0
# pip's folder for one download, inside the cache's downloads/TAG/: .pip-download-PID-XXXXXXXX
PARTIAL_DOWNLOAD = ".pip-download-"
INDEX_TIMEOUT = 120.0
RELEASES_TTL = 24 * 3600
# a release newer than every listed one may have been published since: the listing answers for it only this long
NEWER_RELEASE_TTL = 3600

Wanted = Callable[[str, list[str]], bool]


def _cache_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create npuslim's cache folder: {os_reason(exc)} "
                          "(set NPUSLIM_CACHE_DIR to a writable folder)") from exc
    return folder


def windows_wanted(name: str, parts: list[str]) -> bool:
    """The entries of a Windows wheel npuslim needs: DLLs, import libraries, headers, dist-info, licences."""
    return (
        name.lower().endswith((".dll", ".lib"))
        or "/include/" in name
        or ".dist-info/" in name
        or (name.endswith("__init__.py") and len(parts) == 2)
        # a package's own licence files (onnxruntime/LICENSE, ThirdPartyNotices.txt)
        or (len(parts) == 2 and parts[1] in ("LICENSE", "LICENSE.txt", "ThirdPartyNotices.txt"))
    )


def _check_wheel_sizes(wheel: Path, members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_WHEEL_ENTRIES:
        raise InputError(f"{wheel}: {len(members)} entries, more than {MAX_WHEEL_ENTRIES}: not an OpenVINO wheel")
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > _RATIO_FLOOR and member.file_size > MAX_ENTRY_RATIO * max(member.compress_size, 1):
            raise InputError(f"{wheel}: entry {member.filename[:120]!r} expands {member.compress_size} bytes "
                             f"to {member.file_size} (more than {MAX_ENTRY_RATIO}:1): refused as a zip bomb")
    if total > MAX_UNPACKED_BYTES:
        raise InputError(f"{wheel}: unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}: refused")


def _extract_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, wheel: Path,
                    on_bytes: Callable[[int], None]) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = open(dest, "wb")  # noqa: SIM115 - closed by the with below; only opening is a clash
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        raise InputError(f"{wheel}: entry {member.filename[:120]!r} clashes with another entry") from exc
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
    written = 0
    with out:
        try:
            src = zf.open(member)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
            raise InputError(f"{wheel}: entry {member.filename[:120]!r} cannot be read ({exc})") from exc
        with src:
            while True:
                try:
                    chunk = src.read(1 << 20)
                except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
                        NotImplementedError, ValueError) as exc:
                    raise InputError(f"{wheel}: entry {member.filename[:120]!r} is corrupt ({exc})") from exc
                if not chunk:
                    break
                written += len(chunk)
                if written > member.file_size:
                    raise InputError(f"{wheel}: entry {member.filename[:120]!r} is longer than it says")
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise OutputError(f"{dest}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
                on_bytes(len(chunk))


def _unpack_into(staging: Path, wheel: Path, fh: BinaryIO, wanted: Wanted, reporter: Reporter) -> None:
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InputError(f"{wheel}: not a readable wheel ({exc})") from exc
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        _check_wheel_sizes(wheel, members)
        chosen = []
        for member in members:
            rel = relative_path(member.filename, what=f"{wheel}: entry")
            if wanted(rel, rel.split("/")):
                chosen.append((member, rel))
        total = sum(m.file_size for m, _ in chosen)
        with reporter.step("unpack", wheel.name, total=total, unit="bytes") as result:
            for member, rel in chosen:
                _extract_member(zf, member, staging / rel, wheel,
                                lambda n: reporter.advance("unpack", wheel.name, n))
            result.detail = f"{len(chosen)} of {len(members)} files, {total / 1e6:.1f} MB"


# A wheel's sha256 is remembered under its file's identity, (device, inode, size, mtime, ctime), in this
# process and in the cache: git's rule for its index. cp -p and rsync -a copy the mtime, never the ctime,
# which no user tool can set back, so a rewritten or replaced file is hashed again. A file changed less
# than RACY_SECONDS before it was hashed is not remembered across runs (a change right after it could
# leave every timestamp as it was).
RACY_SECONDS = 2.0
_HASHED: dict[tuple[int, int, int, int, int], str] = {}
_HEX = frozenset("0123456789abcdef")


def _hash_open(wheel: Path, fh: BinaryIO) -> str:
    st = os.fstat(fh.fileno())
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _HASHED:
        known = _remembered_sha256(key)
        if known is None:
            known = _hash_stream(wheel, fh)
            if time.time() - max(st.st_mtime, st.st_ctime) >= RACY_SECONDS:
                _remember_sha256(key, known)
        _HASHED[key] = known
    return _HASHED[key]


def _hash_stream(wheel: Path, fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    try:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{wheel}: cannot read: {os_reason(exc)}") from exc
    return digest.hexdigest()


def _memo_path(key: tuple[int, ...]) -> Path:
    return cache_dir() / "wheel-hashes" / "-".join(map(str, key))


def _remembered_sha256(key: tuple[int, ...]) -> str | None:
    """The sha256 remembered for a file of this identity; ``None`` when there is none (or it is not one)."""
    try:
        text = _memo_path(key).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 and _HEX.issuperset(text) else None


def _remember_sha256(key: tuple[int, ...], digest: str) -> None:
    """Remember ``digest`` for the file of identity ``key``; a cache that cannot be written is no error."""
    path = _memo_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, digest + "\n")
    except OSError:
        pass


def wheel_sha256(wheel: Path) -> str:
    """The sha256 of the wheel's bytes (read once per process and file state)."""
    with open_regular(wheel) as fh:
        return _hash_open(wheel, fh)


def wheel_record(wheel: Path) -> dict[str, str]:
    """What a lock file says of a wheel: its file name and the sha256 of its bytes (no host path)."""
    return {"name": wheel.name, "sha256": wheel_sha256(wheel)}


def unpack_wheel(wheel: Path, wanted: Wanted | None = None, *, progress: ProgressFn | None = None) -> Path:
    """Unpack the entries ``wanted(name, parts)`` picks (default: a Windows wheel's DLLs, headers and
    licences, ``windows_wanted``) into the cache; reuse a previous unpack of the same bytes.

    The cache is keyed by the sha256 of the wheel's content (never by its name, size or
    date: two wheels alike in those are still told apart), hashed and unpacked from one
    open file. The fill is atomic and idempotent: each run unpacks into its own staging
    folder and renames it into place; when another run got there first, its (identical)
    result is used and this one is dropped. Entries whose names leave the wheel (``..``,
    absolute) are refused, and so are wheels that would unpack past ``MAX_UNPACKED_BYTES``
    or an entry compressed more than ``MAX_ENTRY_RATIO``:1. Progress: one ``unpack`` step in bytes.
    """
    parent = cache_dir() / "wheels"
    with open_regular(wheel) as fh:
        target = parent / f"{wheel.stem[:120]}-{_hash_open(wheel, fh)[:24]}"
        if target.is_dir():
            return target
        _cache_folder(parent)
        try:
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=parent))
        except OSError as exc:
            raise OutputError(f"{parent}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
        try:
            fh.seek(0)
            _unpack_into(staging, wheel, fh, wanted or windows_wanted, Reporter(progress))
            try:
                os.replace(staging, target)
            except OSError as exc:
                if not target.is_dir():
                    raise OutputError(f"{target}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
                shutil.rmtree(staging, ignore_errors=True)  # another run filled it first
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _releases_file(project: str, platform: str) -> Path:
    return cache_dir() / "releases" / f"{project}-{platform}.json"


def cached_releases(project: str, platform: str, *, ttl: float = RELEASES_TTL) -> tuple[str, ...] | None:
    """The releases of ``project`` for ``platform`` pip listed less than ``ttl`` seconds ago, newest first."""
    try:
        doc = json.loads(_releases_file(project, platform).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("fetched"), (int, float)):
        return None
    releases = doc.get("releases")
    if not 0 <= time.time() - doc["fetched"] <= ttl or not isinstance(releases, list):
        return None
    return tuple(str(r) for r in releases)


def store_releases(project: str, platform: str, releases: tuple[str, ...]) -> None:
    """Keep the releases pip listed (best effort: a cache that cannot be written is asked again next time)."""
    target = _releases_file(project, platform)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".releases-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"fetched": time.time(), "releases": list(releases)}, fh)
        os.replace(tmp, target)
    except OSError:
        pass


def list_releases(project: str, platform: str) -> tuple[str, ...]:
    """The final releases of ``project`` on the index for ``platform`` (and the older tags that machine
    runs), newest first: from the cache when fresh, else ``pip index versions`` (then cached)."""
    cached = cached_releases(project, platform)
    if cached is not None:
        return cached
    tags = [arg for tag in compatible_platforms(platform) for arg in ("--platform", tag)]
    cmd = [sys.executable, "-m", "pip", "index", "versions", project, *tags,
           "--python-version", DEFAULT_PYTHON_VERSION, "--only-binary=:all:", "--disable-pip-version-check"]
    try:
        run = run_tool(cmd, timeout=INDEX_TIMEOUT)
    except ToolError as exc:
        raise ToolError(f"cannot run pip to list the releases of {project}: {exc}") from exc
    releases = req_text.releases_from_index(run.output)
    if releases is None and "No matching distribution" in run.output:
        releases = ()
    if releases is None:
        lines = [ln.strip() for ln in run.output.splitlines() if ln.strip()]
        detail = ([ln for ln in lines if ln.startswith("ERROR")] or lines[-1:] or ["no output"])[0]
        raise ToolError(f"pip could not list the releases of {project} for {platform}: {detail}")
    store_releases(project, platform, releases)
    return releases


def resolve_requirement(source: str, platform: str) -> tuple[str, str | None]:
    """``source``, or for a bare project name (``openvino``) its newest release (``openvino==2026.4.1``)
    and one line saying so; an ``InputError`` when the index has no release of it for ``platform``."""
    project = req_text.bare_project(source)
    if project is None:
        return source, None
    platform_of_tag(platform)
    releases = list_releases(project, platform)
    if not releases:
        raise InputError(f"{project}: the package index has no release of it for {platform}")
    return (f"{project}=={releases[0]}",
            f"{project}: using its newest release for {platform}, {releases[0]} (pin one with {project}==VERSION)")


def _refuse_known_missing(requirement: str, platform: str) -> None:
    """A ``NoSuchRelease`` without asking pip when the cached listing lacks a pinned release (for one
    newer than every listed release, only when listed within ``NEWER_RELEASE_TTL``: it may be new)."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    req = req_text.pinned(requirement)
    known = cached_releases(canonicalize_name(req.name), platform) if req is not None else None
    if req is None or not known:
        return
    try:
        wanted = Version(next(iter(req.specifier)).version)
        if any(Version(k) == wanted for k in known):
            return
        recent = cached_releases(canonicalize_name(req.name), platform, ttl=NEWER_RELEASE_TTL)
        if wanted > Version(known[0]) and recent is None:
            return
    except InvalidVersion:
        return
    raise req_text.no_such_release(requirement, platform, known)


def _cached_wheel(requirement: str, tag: str) -> Path | None:
    """The downloaded wheel that serves ``requirement`` for ``tag``, when there is one and it is whole
    (a zip file to its end); a cut-off one (left by an older npuslim, or a disk that filled up) is
    removed, so that it is downloaded again."""
    req = req_text.pinned(requirement)
    downloads = cache_dir() / "downloads" / tag
    if req is None or not downloads.is_dir():
        return None
    for path in sorted(downloads.glob("*.whl")):
        if req_text.wheel_matches(path, req, tag):
            if zipfile.is_zipfile(path):
                return path
            with contextlib.suppress(OSError):
                path.unlink()
    return None


def _pip_has_raw_progress() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return req_text.pip_has_raw_progress(version("pip"))
    except PackageNotFoundError:
        return False


class _PipProgress:
    """Reads pip's lines as they come: ``Progress N of M`` (``--progress-bar raw``) become bytes."""

    def __init__(self, reporter: Reporter, subject: str) -> None:
        self._reporter, self._subject = reporter, subject
        self._done, self._total = 0, -1

    def __call__(self, line: str) -> None:
        amount = req_text.raw_progress(line)
        if amount is None:
            return
        done, total = amount
        if total != self._total or done < self._done:  # a new file, or pip started over
            self._total, self._done = total, 0
            self._reporter.start("fetch", self._subject, total=total or None, unit="bytes")
        self._reporter.advance("fetch", self._subject, done - self._done)
        self._done = done


def _download(requirement: str, tag: str, python_version: str, reporter: Reporter) -> Path:
    """pip downloads into a folder of this run's own (pip writes the wheel in place, as it arrives),
    and the wheel is renamed into the cache once pip has finished: Ctrl-C, a kill or a failed download
    never leaves a cut-off wheel there for the next run to trust. A folder a killed run left is
    removed by the next download."""
    downloads = _cache_folder(cache_dir() / "downloads" / tag)
    try:
        part = private_folder(downloads, PARTIAL_DOWNLOAD)
    except OSError as exc:
        raise OutputError(f"{downloads}: cannot write to npuslim's cache: {os_reason(exc)}") from exc
    try:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--platform", tag, "--python-version", python_version,
            "--disable-pip-version-check", *(["--progress-bar", "raw"] if _pip_has_raw_progress() else []),
            "-d", str(part), requirement,
        ]
        scratch = part / "tmp"  # pip's own temporary files too: an interrupted pip leaves them here, not in /tmp
        scratch.mkdir()
        env = {**os.environ, "TMPDIR": str(scratch), "TEMP": str(scratch), "TMP": str(scratch)}
        try:
            run = stream_tool(cmd, on_line=_PipProgress(reporter, requirement), timeout=DOWNLOAD_TIMEOUT, env=env)
        except ToolError as exc:
            raise ToolError(f"cannot run pip to download {requirement}: {exc}") from exc
        saved = req_text.pip_download_result(run, requirement, tag)
        wheels = sorted(part.glob("*.whl"))
        name = saved.name if saved is not None and (part / saved.name).is_file() else \
            wheels[-1].name if wheels else None
        if name is None:
            raise ToolError(f"pip reported success for {requirement} but wrote no wheel")
        os.replace(part / name, downloads / name)
        return downloads / name
    finally:
        shutil.rmtree(part, ignore_errors=True)


def fetch_wheel(requirement: str, *, platform: str = DEFAULT_PLATFORM,
                python_version: str = DEFAULT_PYTHON_VERSION, progress: ProgressFn | None = None) -> Path:
    """The wheel for ``requirement`` (a bare ``openvino`` is its newest release) for ``platform``, or for
    an older manylinux tag such a machine also runs (``compatible_platforms``): from the cache when
    pinned and there, else downloaded with pip into the cache. A release the index does not have is
    a ``NoSuchRelease`` (exit 4) naming the nearest ones; an unknown ``platform`` a ``UsageError``."""
    platform_of_tag(platform)
    requirement, _note = resolve_requirement(requirement, platform)
    tags = compatible_platforms(platform)
    for tag in tags:
        cached = _cached_wheel(requirement, tag)
        if cached is not None:
            return cached
    _refuse_known_missing(requirement, platform)
    listed: list[str] = []
    reporter = Reporter(progress)
    with reporter.step("fetch", requirement, detail="pip download", unit="bytes") as result:
        for tag in tags:
            try:
                saved = _download(requirement, tag, python_version, reporter)
            except req_text.NoSuchRelease as exc:
                listed += exc.releases
                continue
            result.detail = saved.name
            return saved
        releases = req_text.final_releases(listed)
        _remember(requirement, platform, releases)
        raise req_text.no_such_release(requirement, platform, releases)


def _remember(requirement: str, platform: str, releases: tuple[str, ...]) -> None:
    from packaging.utils import canonicalize_name

    req = req_text.parse_requirement(requirement)
    if req is not None and releases:
        store_releases(canonicalize_name(req.name), platform, releases)
