"""Shrinking Windows DLLs for pack: ``npuslim.act.strip`` and UPX, each result checked.

A stripped DLL must read the same imports with pefile and differ from the
original only in the debug data strip removed; a UPX-packed DLL must import
the same DLLs (plus UPX's own KERNEL32.dll) as read by pefile and by LIEF,
and keep Control Flow Guard unless ``--upx-force-cfg``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

from npuslim import __version__
from npuslim.act.steps import (
    Attempt,
    Job,
    PackContext,
    PackOptions,
    PackStatus,
    Shrink,
    StepEntry,
    StripEntry,
    UpxDecision,
    UpxEntry,
)
from npuslim.act.strip import changed_outside_edits, strip_pe
from npuslim.act.upx import DECLINED, INTERRUPTED, UpxTool, pack_file
from npuslim.act.workcache import make_key, sha256_bytes, sha256_path
from npuslim.errors import NpuslimError
from npuslim.formats.crosscheck import lief_imports
from npuslim.formats.elf import ElfInfo
from npuslim.formats.lock import LockedFile, PackRecord
from npuslim.formats.pe import PeInfo, read_pe

# UPX adds an import of KERNEL32.dll (LoadLibraryA, GetProcAddress, ...) for its stub.
_UPX_STUB_IMPORTS = frozenset({"kernel32.dll"})


def _dll_names(info: PeInfo) -> set[str]:
    return {n.lower() for n in info.imports + info.delay_imports}


def _pe(job: Job) -> PeInfo:
    """The facts of a job's DLL: this shrinker's ``read`` made them."""
    return cast(PeInfo, job.info)


def _import_drift(path: Path, info: PeInfo, expected: set[str],
                  allowed_extra: frozenset[str] = frozenset()) -> str | None:
    """``None`` when pefile (``info``) and LIEF both read exactly the ``expected`` imported
    DLLs (plus ``allowed_extra``) in a rewritten file, else what differs."""
    readers: tuple[tuple[str, Callable[[], set[str]]], ...] = (
        ("pefile", lambda: _dll_names(info)), ("LIEF", lambda: lief_imports(path)))
    for reader, seen in readers:
        names = seen()
        lost, added = expected - names, names - expected - allowed_extra
        if lost or added:
            return f"lost {', '.join(sorted(lost)) or '-'}, added {', '.join(sorted(added)) or '-'} ({reader})"
    return None


class PeShrinker:
    """``npuslim.act.steps.Shrinker`` for PE DLLs."""

    def read(self, path: Path) -> PeInfo:
        return read_pe(path)

    def upx_rule(self, info: PeInfo | ElfInfo, options: PackOptions, upx: UpxTool | None) -> UpxDecision:
        """CFG DLLs: UPX 4+ refuses them unless forced, and forcing turns CFG off, so ``--force`` is
        passed only with ``upx_force_cfg``; without it UPX is asked all the same and its own refusal
        is reported. UPX older than 4 never gets them (the CFG DLLs it packed could fail to load)."""
        cfg = cast(PeInfo, info).cfg  # this shrinker's ``read`` made ``info``
        if cfg and upx is not None and not upx.refuses_cfg:
            return UpxDecision(PackStatus.SKIPPED, f"Control Flow Guard enabled: UPX {upx.version_text} must not "
                               "pack CFG DLLs (the DLLs it packed could fail to load); use UPX 4 or newer")
        return UpxDecision(None, force=bool(cfg) and options.upx_force_cfg)

    def strip_tool(self, options: PackOptions, infos: tuple[PeInfo | ElfInfo, ...]) -> tuple[str | None, str]:
        return None, ""  # npuslim.act.strip is npuslim's own

    def strip_key(self, job: Job, ctx: PackContext) -> str:
        return make_key("strip", __version__, job.locked.sha256)

    def strip(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt:
        original = src.read_bytes()
        result = strip_pe(src, original)
        size, message = len(result.data), f"{job.locked.size} -> {len(result.data)} bytes"
        if not result.changed:
            return Attempt(StripEntry(Shrink.KEPT, message, size, 0.0, None))
        work.write_bytes(result.data)
        # two checks: pefile reads the same imports, and no byte of any kept section changed
        # but the debug data strip zeroed (cheaper than LIEF, and stricter)
        before, names = _dll_names(_pe(job)), _dll_names(read_pe(work))
        drift = (f"lost {', '.join(sorted(before - names)) or '-'}, added "
                 f"{', '.join(sorted(names - before)) or '-'} (pefile)"
                 if names != before else changed_outside_edits(original, result))
        if drift is not None:
            raise NpuslimError(f"{job.locked.path}: stripping changed more than it should ({drift}); "
                               "nothing was written")
        return Attempt(StripEntry(Shrink.STRIPPED, message, size, 0.0, sha256_bytes(result.data),
                                  result.signature_removed > 0))

    def strip_message(self, entry: StepEntry) -> str | None:
        return None

    def upx_key(self, job: Job, ctx: PackContext, sha: str) -> str:
        return make_key("upx", ctx.upx_id, ctx.options.upx_level, job.upx.force, sha)

    def upx(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt:
        assert ctx.upx is not None
        info, force = _pe(job), job.upx.force
        start = time.perf_counter()
        outcome = pack_file(ctx.upx, src, work, level=ctx.options.upx_level, force=force,
                            timeout=ctx.options.upx_timeout)
        seconds = round(time.perf_counter() - start, 3)
        ctx.check()
        interrupted, size = outcome.status in INTERRUPTED, src.stat().st_size
        if not outcome.ok:
            hint = "; npuslim: --upx-force-cfg" if "GUARD_CF" in outcome.message and not force else ""
            kind = Shrink.REFUSED if outcome.status in DECLINED else Shrink.FAILED
            return Attempt(UpxEntry(kind, f"UPX: {outcome.message}{hint}", size, seconds, None), interrupted)
        packed = read_pe(work)
        drift = _import_drift(work, packed, _dll_names(info), _UPX_STUB_IMPORTS)
        if info.cfg and not packed.cfg and not force:
            return Attempt(UpxEntry(Shrink.REFUSED, "UPX turned Control Flow Guard off; left unpacked "
                                    "(use --upx-force-cfg to accept that)", size, seconds, None), interrupted)
        if drift is not None:
            return Attempt(UpxEntry(Shrink.FAILED, f"import table changed after packing ({drift}); left unpacked",
                                    size, seconds, None), interrupted)
        return Attempt(UpxEntry(Shrink.PACKED, outcome.message, packed.size, seconds, sha256_path(work)),
                       interrupted)

    def final(self, job: Job, ctx: PackContext, dest: Path, sha: str, record: PackRecord, *,
              stripped: StepEntry | None, upx: PackStatus) -> LockedFile:
        info, final = _pe(job), read_pe(dest)
        signature_removed = bool(stripped and stripped.signature_removed) or (upx is PackStatus.PACKED and info.signed)
        record = replace(record, original_signature=info.signature, original_cfg=info.cfg,
                         cfg_disabled=bool(info.cfg) and not final.cfg, signature_removed=signature_removed,
                         image_size=info.image_size)
        return replace(job.locked, size=final.size, sha256=sha, signature=final.signature, cfg=final.cfg,
                       debug_directory=final.has_debug, pack=record)
