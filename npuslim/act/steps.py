"""The two steps pack runs on each DLL or shared object, strip and UPX, the same way for both formats.

``cached_step`` runs one step through the pack cache (``npuslim.act.workcache``):
on a miss the format's ``Shrinker`` does the work on a work copy and its
result is kept as a ``StepEntry`` (and a blob when the file changed); on a
hit nothing runs. ``npuslim.act.pack_pe`` and ``npuslim.act.pack_elf`` hold
the two shrinkers; ``npuslim.act.pack.process_file`` runs a file through them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from npuslim.act.upx import DEFAULT_TIMEOUT, UpxTool
from npuslim.act.workcache import CacheEntry, WorkCache
from npuslim.enums import StrEnum
from npuslim.formats.elf import ElfInfo
from npuslim.formats.lock import LockedFile, PackRecord
from npuslim.formats.pe import PeInfo
from npuslim.progress import ProgressEvent, ProgressFn, StepState
from npuslim.units import BASELINE_BYTES

# (the command, its writable work folder) -> the command as run (in a sandbox, or as it is)
LoadWrap = Callable[[list[str], Path], list[str]]


class Shrink(StrEnum):
    """The outcome of one strip or UPX step on one file (``StepEntry.outcome``, ``ElfShrink.outcome``)."""

    STRIPPED = "stripped"
    PACKED = "packed"
    KEPT = "kept"            # nothing to gain
    REFUSED = "refused"      # the tool declined
    TIMED_OUT = "timed-out"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def changed(self) -> bool:
        """The step replaced the file."""
        return self in (Shrink.STRIPPED, Shrink.PACKED)

    @property
    def interrupted(self) -> bool:
        """Cut short (the time limit, Ctrl-C): the outcome says nothing about the file."""
        return self in (Shrink.TIMED_OUT, Shrink.STOPPED)


class PackStatus(StrEnum):
    """What UPX did to one file of a pack (``packed.upx`` of each file in the lock file)."""

    PACKED = "packed"
    SKIPPED = "skipped"                  # npuslim did not ask UPX (excluded, already packed, CFG and old UPX)
    REFUSED = "refused"                  # UPX declined, or its result was not kept (CFG turned off)
    FAILED = "failed"
    NOT_REQUESTED = "not requested"      # no --upx: recorded as no status at all


@dataclass(frozen=True)
class StepEntry(CacheEntry):
    """What one strip or UPX step did to one file, as the pack cache keeps it.

    ``message`` is the step's line for the user; ``size`` the file's size after
    the step; ``blob`` the sha256 of the file after the step, exactly when the
    step changed it; ``seconds`` the tool's time. An entry with an outcome its
    step cannot have (``OUTCOMES``) is refused (``ValueError``): a cache miss.
    """

    OUTCOMES: ClassVar[frozenset[Shrink]] = frozenset(Shrink)

    outcome: Shrink
    message: str
    size: int
    seconds: float
    blob: str | None
    signature_removed: bool = False

    def __post_init__(self) -> None:
        if self.outcome not in self.OUTCOMES:
            raise ValueError(f"{self.outcome}: not an outcome of this step")
        if (self.blob is not None) != self.outcome.changed or self.size < 0 or self.seconds < 0:
            raise ValueError("a step entry at odds with itself")


@dataclass(frozen=True)
class StripEntry(StepEntry):
    OUTCOMES: ClassVar[frozenset[Shrink]] = frozenset({Shrink.STRIPPED, Shrink.KEPT, Shrink.FAILED})


@dataclass(frozen=True)
class UpxEntry(StepEntry):
    OUTCOMES: ClassVar[frozenset[Shrink]] = frozenset({Shrink.PACKED, Shrink.REFUSED, Shrink.FAILED})


@dataclass(frozen=True)
class Attempt:
    """A step run on a miss: its entry, and whether it was cut short (then it is never cached)."""

    entry: StepEntry
    interrupted: bool = False


@dataclass(frozen=True)
class PackOptions:
    strip: bool = False
    upx: bool = False
    upx_path: Path | None = None
    upx_level: str | None = None
    upx_force_cfg: bool = False
    upx_exclude: tuple[str, ...] = ()
    upx_timeout: float = DEFAULT_TIMEOUT
    jobs: int = 1
    archive: str = "none"
    archive_path: Path | None = None
    compare_download: bool = False
    force: bool = False
    use_cache: bool = True
    baseline: int = BASELINE_BYTES
    max_size: str | None = None      # size budget (npuslim.check.budget); else the input lock file's budget
    sbom: bool = False               # write sbom.cdx.json (also when the input bundle has one)
    check_load: bool = False         # Linux: load each UPX-packed library in a child process (runs its code)

    def recorded(self) -> dict[str, Any]:
        """The options that decide the output's content, as the lock file and the report record them."""
        return {
            "strip": self.strip, "upx": self.upx, "upx_level": self.upx_level or "default",
            "upx_force_cfg": self.upx_force_cfg, "upx_exclude": list(self.upx_exclude),
            "archive": self.archive, "compare_download": self.compare_download,
        }


@dataclass(frozen=True)
class UpxDecision:
    """Whether UPX runs on a file, decided in the plan: ``skip`` is ``None`` (it runs, with
    ``--force`` when ``force``), ``SKIPPED`` (``reason`` says why) or ``NOT_REQUESTED`` (no --upx)."""

    skip: PackStatus | None
    reason: str = ""
    force: bool = False


@dataclass(frozen=True)
class Job:
    locked: LockedFile
    info: PeInfo | ElfInfo
    upx: UpxDecision


class Cancelled(Exception):
    """The run was stopped (Ctrl-C, another file failed): raised between steps."""


@dataclass
class PackContext:
    bundle: Path
    staging: Path
    work: Path
    options: PackOptions
    upx: UpxTool | None
    upx_id: str
    cache: WorkCache
    progress: ProgressFn | None
    cancel: threading.Event
    on_final: Callable[[LockedFile], None] | None = None   # a DLL's output file is complete
    strip_tool: str | None = None                          # GNU strip (Linux bundles)
    strip_id: str = ""
    strip_messages: dict[str, str] = field(default_factory=dict)
    # ``--check-load``: how to run the load check's child process (the pipeline's sandbox); ``None``: never
    # load a packed library, since loading runs the bundle's own code (its constructors)
    load_wrap: LoadWrap | None = None

    def emit(self, step: str, path: str, state: str, detail: str = "") -> None:
        if self.progress:
            self.progress(ProgressEvent(step, path, StepState(state), detail))

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()


class Shrinker(Protocol):
    """Strip and UPX for one file format (``npuslim.act.pack.SHRINKERS``). ``strip`` and ``upx``
    run only on a cache miss and write a changed file to ``work``, naming its sha256 ``blob``."""

    def read(self, path: Path) -> PeInfo | ElfInfo:
        """The facts of one file of the bundle (an ``InputError`` when it is not of this format)."""

    def upx_rule(self, info: PeInfo | ElfInfo, options: PackOptions, upx: UpxTool | None) -> UpxDecision:
        """This format's own rule on whether UPX may pack a file the common rules let through."""

    def strip_tool(self, options: PackOptions, infos: tuple[PeInfo | ElfInfo, ...]) -> tuple[str | None, str]:
        """The external strip tool this format needs and its identity for the cache (``(None, "")``: none)."""

    def strip_key(self, job: Job, ctx: PackContext) -> str: ...

    def strip(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt: ...

    def strip_message(self, entry: StepEntry) -> str | None:
        """What the report says strip did to the file (``None``: nothing)."""

    def upx_key(self, job: Job, ctx: PackContext, sha: str) -> str: ...

    def upx(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt: ...

    def final(self, job: Job, ctx: PackContext, dest: Path, sha: str, record: PackRecord, *,
              stripped: StepEntry | None, upx: PackStatus) -> LockedFile:
        """The lock entry of the finished file ``dest`` (sha256 ``sha``): ``record`` holds what both
        formats record, ``stripped`` what strip did (``None``: no --strip), ``upx`` what UPX did."""


def input_copy(job: Job, ctx: PackContext) -> Path:
    """Where ``process_file`` keeps its private copy of the job's input, the bytes it hashed and works on."""
    return ctx.work / f"{job.locked.path.replace('/', '_')}.input"


def cached_step(step: str, job: Job, ctx: PackContext, src: Path, sha: str, key: str,
                run: Callable[[Path], Attempt]) -> tuple[Path, str, StepEntry, bool]:
    """Step ``step`` (``strip`` or ``upx``) on ``src`` (sha256 ``sha``: the hash of those very bytes, a
    private copy) through the cache: ``run`` runs only on a miss, given a work path; a hit's blob is
    copied into the work folder as it is hashed. Returns (the file after the step, its sha256, the
    entry, whether it came from the cache)."""
    name = job.locked.path.replace('/', '_')
    found = ctx.cache.load(key, ENTRIES[step], fetch=ctx.work / f"{name}.{step}.cached")
    if found is not None:  # its blob is a private copy hashed as it was read
        entry, blob = found
        return blob or src, entry.blob or sha, entry, True
    ctx.check()
    work = ctx.work / f"{name}.{step}"
    attempt = run(work)
    entry, path = attempt.entry, src
    if entry.blob is not None:
        ctx.cache.put_blob_file(work, entry.blob)
        path = work
    if not attempt.interrupted:
        ctx.cache.store(key, entry)
    return path, entry.blob or sha, entry, False


ENTRIES: dict[str, type[StepEntry]] = {"strip": StripEntry, "upx": UpxEntry}
