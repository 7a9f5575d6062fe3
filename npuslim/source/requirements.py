"""Requirements (``openvino==2026.4.1``) and what pip says about them: pure functions, no process.

What the user typed is told apart here (a requirement, a bare project name that
means "the newest release", a near-miss such as ``openvino=2026.4.1``), and
pip's answers are read here: the ``Saved ...`` line of ``pip download``, its
``(from versions: ...)`` list when a release does not exist, ``pip index
versions``' ``Available versions:`` line and pip's ``--progress-bar raw`` lines.
Running pip is ``npuslim.source.wheel``'s job.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.errors import InputError, ToolError, UsageError
from npuslim.tools import ToolRun

if TYPE_CHECKING:
    from packaging.requirements import Requirement

# packaging.requirements and packaging.utils are imported where used: 20-40 ms of start-up
# (regular expressions compiled at import) that a run on a folder or a DLL never needs.

# A bare name of these projects (not an existing path) means their newest release.
BARE_PROJECTS = ("openvino", "onnxruntime-openvino")
_NEAR_MISS = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9._-]*?)\s*(?P<sep>={1}|=>|=<|:|@|\s|-|_|~)\s*"
                        r"v?(?P<version>\d+(?:\.\d+)*)$")
_FROM_VERSIONS = re.compile(r"\(from versions:\s*([^)]*)\)")
_AVAILABLE = re.compile(r"^Available versions:\s*(.*)$", re.MULTILINE)
_RAW_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)\s*$")
_DOWNLOADING = re.compile(r"^\s*Downloading\s+(\S+)")


class NoSuchRelease(InputError):
    """The index has no release of the project that the requirement allows; ``releases`` are those it has."""

    def __init__(self, message: str, releases: tuple[str, ...]) -> None:
        super().__init__(message)
        self.releases = releases


def _exists(text: str) -> bool:
    try:
        return Path(text).exists()
    except OSError:  # a name too long for a path is no file
        return False


def parse_requirement(text: str) -> Requirement | None:
    """``text`` as a requirement, or ``None`` when it does not parse as one."""
    from packaging.requirements import Requirement

    try:
        return Requirement(text.strip())
    except (ValueError, RecursionError):  # InvalidRequirement, a number past int()'s limit, or
        return None                       # markers nested deeper than packaging<26 parses


def bare_project(text: str) -> str | None:
    """The project's name when ``text`` is the bare name of one of ``BARE_PROJECTS`` (``openvino``)."""
    name = text.strip().lower().replace("_", "-").replace(".", "-")
    return name if name in BARE_PROJECTS and text.strip() == text and not _exists(text) else None


def is_requirement(text: str) -> bool:
    """True for a requirement with a version clause (``openvino==2026.4.1``, ``onnxruntime-openvino>=1.20``)
    or the bare name of a project of ``BARE_PROJECTS`` (``openvino``: its newest release), when it is
    not also the name of an existing file or folder. Any other bare name is not one."""
    if _exists(text):
        return False
    req = parse_requirement(text)
    if req is None:
        return False
    return req.url is None and (bool(req.specifier) or bare_project(text) is not None)


def near_miss(text: str) -> UsageError | InputError | None:
    """The error for ``text`` that is no file, no folder and no requirement but looks like a
    requirement typed wrong (``openvino=2026.4.1``, ``openvino-2026.4.1``): it says to write ``==``.
    A single ``=`` is a ``UsageError``; the others may be a mistyped path, an ``InputError``."""
    m = _NEAR_MISS.match(text.strip())
    if m is None or _exists(text):
        return None
    fixed = f"{m.group('name')}=={m.group('version')}"
    if m.group("sep") == "=":
        return UsageError(f"{text}: a requirement pins a release with ==; write {fixed}")
    return InputError(f"{text}: no such file or folder; for a release write the requirement {fixed}")


def pinned(requirement: str) -> Requirement | None:
    """``requirement`` when it pins one version (``openvino==2026.4.1``): a cached wheel can then serve it."""
    req = parse_requirement(requirement)
    if req is None:
        return None
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        return None
    return req


def wheel_matches(path: Path, req: Requirement, platform: str) -> bool:
    """True when the wheel file ``path`` is of ``req``'s project, in a version it allows, for ``platform``."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    try:
        name, version, _build, tags = parse_wheel_filename(path.name)
        allowed = req.specifier.contains(version, prereleases=True)
    except (InvalidWheelFilename, ValueError):  # ValueError: a version past int()'s digit limit
        return False
    return name == canonicalize_name(req.name) and allowed and any(tag.platform == platform for tag in tags)


def releases_from_download(output: str) -> tuple[str, ...] | None:
    """The releases a failed ``pip download`` listed (``(from versions: ...)``), pre-releases left out,
    newest first; ``()`` for ``none``; ``None`` when pip listed none (another failure)."""
    m = _FROM_VERSIONS.search(output)
    if m is None:
        return None
    return final_releases(v.strip() for v in m.group(1).split(",") if v.strip() and v.strip() != "none")


def releases_from_index(output: str) -> tuple[str, ...] | None:
    """The releases ``pip index versions`` listed (``Available versions: ...``), newest first; ``None``
    when the line is missing."""
    m = _AVAILABLE.search(output)
    return None if m is None else final_releases(v.strip() for v in m.group(1).split(",") if v.strip())


def final_releases(versions: object) -> tuple[str, ...]:
    """The final (not pre- or dev-) releases among ``versions``, newest first, each once."""
    from packaging.version import InvalidVersion, Version

    parsed: dict[Version, str] = {}
    for text in versions:  # type: ignore[attr-defined]
        try:
            version = Version(str(text))
        except InvalidVersion:
            continue
        if not version.is_prerelease and not version.is_devrelease:
            parsed.setdefault(version, str(text))
    return tuple(parsed[v] for v in sorted(parsed, reverse=True))


def nearest_releases(wanted: str, releases: tuple[str, ...], *, count: int = 4) -> tuple[str, ...]:
    """Up to ``count`` of ``releases`` (newest first) closest to ``wanted`` in release order, newest first."""
    from packaging.version import InvalidVersion, Version

    try:
        target = Version(wanted)
    except InvalidVersion:
        return releases[:count]
    ordered = [r for r in releases if Version(r) != target]
    newer = sum(1 for r in ordered if Version(r) > target)  # where ``wanted`` would stand
    picked: list[str] = []
    older, newest = newer, newer - 1
    while len(picked) < count and (older < len(ordered) or newest >= 0):
        if older < len(ordered):  # the older neighbour first: a mistyped patch number is usually too high
            picked.append(ordered[older])
            older += 1
        if len(picked) < count and newest >= 0:
            picked.append(ordered[newest])
            newest -= 1
    return final_releases(picked)


def no_such_release(requirement: str, platform: str, releases: tuple[str, ...]) -> NoSuchRelease:
    """The one line for a requirement no release on the index satisfies, naming the nearest ones."""
    req = pinned(requirement)
    name = req.name if req is not None else requirement
    if not releases:
        return NoSuchRelease(f"{requirement}: the package index has no release of {name} for {platform}", ())
    wanted = next(iter(req.specifier)).version if req is not None else ""
    near = nearest_releases(wanted, releases) if wanted else releases[:4]
    return NoSuchRelease(f"{requirement}: no such release for {platform}; nearest: "
                         f"{', '.join(near)} (newest {releases[0]})", releases)


def pip_download_result(run: ToolRun, requirement: str, platform: str) -> Path | None:
    """The wheel a finished ``pip download`` names as saved (or already there), ``None`` when it
    names none. A ``NoSuchRelease`` (exit 4) naming the nearest releases when pip listed the ones
    it has; a ``ToolError`` with pip's first ``ERROR`` line for any other failure."""
    if run.returncode != 0 and "No module named pip" in run.output:
        raise ToolError(f"cannot download {requirement}: pip is not available in this Python "
                        f"({sys.executable}); install pip, or pass a downloaded .whl file")
    if run.returncode != 0:
        releases = releases_from_download(run.output)
        if releases is not None:
            raise no_such_release(requirement, platform, releases)
        lines = [ln.strip() for ln in run.output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")]
        detail = (errors or lines[-1:] or ["no output"])[0]
        raise ToolError(f"pip could not download {requirement} for {platform}: {detail}")
    saved = re.findall(r"(?:Saved|File was already downloaded)\s+(\S+\.whl)", run.output)
    return Path(saved[-1]) if saved else None


def raw_progress(line: str) -> tuple[int, int] | None:
    """``(done, total)`` from a line of pip's ``--progress-bar raw`` (pip 24.1+: ``Progress 1024 of 4096``)."""
    m = _RAW_PROGRESS.match(line)
    return (int(m.group(1)), int(m.group(2))) if m else None


def downloading(line: str) -> str | None:
    """The file name pip's ``Downloading openvino-...whl (44.1 MB)`` line names, or ``None``."""
    m = _DOWNLOADING.match(line)
    return Path(m.group(1)).name if m else None


def pip_has_raw_progress(version: str) -> bool:
    """True for a pip version (``24.1``) that has ``--progress-bar raw``."""
    parts = re.findall(r"\d+", version)[:2]
    return len(parts) == 2 and (int(parts[0]), int(parts[1])) >= (24, 1)
