"""The size report of a packed bundle: data, JSON (schema-versioned) and Markdown.

Built from the output's lock file (its ``packed`` options and each
file's ``PackRecord``), so the report and the manifest cannot disagree. Honest
by construction: every number is measured (file sizes on disk, xz streams
actually compressed), and what UPX costs (signatures, Control Flow Guard,
load-time memory) is reported beside what it saves.

A Linux bundle's report has the same shape: its rows are the shared objects
of ``lib/`` (link names are symlinks, counted with the other files), each
with what strip did or why it kept the file (``strip_message``); signatures
and Control Flow Guard do not exist there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from npuslim import __version__
from npuslim.act.pack import PackResult, PackStatus
from npuslim.formats.binary import Signature
from npuslim.formats.lock import LockedFile
from npuslim.layout import DLL_ROLES
from npuslim.platforms import Traits, traits
from npuslim.units import BASELINE_BYTES, format_size, percent

REPORT_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class FileRow:
    """One DLL (or shared object) in the report, read from its manifest entry."""

    path: str
    original_size: int
    after_strip: int | None
    after_upx: int | None
    final_size: int
    upx_status: str          # packed | skipped | refused | failed | timed-out | not requested
    upx_message: str
    upx_seconds: float | None
    signature_before: str | None
    signature_after: str | None
    cfg_before: bool | None
    cfg_after: bool | None
    image_size: int
    xz_original: int | None
    xz_final: int | None
    strip_message: str | None = None   # ELF: what strip did, or why the file was kept

    @classmethod
    def of(cls, f: LockedFile, upx_seconds: float | None = None, strip_message: str | None = None) -> FileRow:
        rec = f.pack
        assert rec is not None
        return cls(
            path=f.path, original_size=rec.original_size, after_strip=rec.after_strip,
            after_upx=f.size if rec.upx == PackStatus.PACKED else None, final_size=f.size,
            upx_status=rec.upx or PackStatus.NOT_REQUESTED, upx_message=rec.upx_skipped or "", upx_seconds=upx_seconds,
            signature_before=rec.original_signature, signature_after=f.signature,
            cfg_before=rec.original_cfg, cfg_after=f.cfg, image_size=rec.image_size or 0,
            xz_original=rec.original_xz, xz_final=rec.xz_final, strip_message=strip_message,
        )


@dataclass(frozen=True)
class SizeReport:
    result: PackResult
    files: tuple[FileRow, ...]
    other_bytes: int          # headers, import libraries, licences
    source_size: int
    source_size_how: str
    baseline: int

    @classmethod
    def of(cls, result: PackResult, baseline: int | None = None) -> SizeReport:
        lock = result.lock
        rows = tuple(FileRow.of(f, result.upx_seconds.get(f.path), result.strip_messages.get(f.path))
                     for f in lock.files if f.role in DLL_ROLES and f.pack is not None)
        other = sum(f.size for f in lock.files if f.role not in DLL_ROLES)
        return cls(result, rows, other, lock.source.size, lock.source.size_measured_as,
                   baseline or BASELINE_BYTES)

    @property
    def traits(self) -> Traits:
        return traits(self.result.platform)

    @property
    def options(self) -> dict[str, Any]:
        """The options exactly as the output's manifest records them."""
        packed = self.result.lock.packed
        return packed.options.to_dict() if packed is not None else {}

    @property
    def dll_original(self) -> int:
        return sum(f.original_size for f in self.files)

    @property
    def dll_final(self) -> int:
        return sum(f.final_size for f in self.files)

    @property
    def bundle_original(self) -> int:
        return self.dll_original + self.other_bytes

    @property
    def bundle_final(self) -> int:
        return self.dll_final + self.other_bytes

    @property
    def upx_packed(self) -> tuple[FileRow, ...]:
        return tuple(f for f in self.files if f.upx_status == PackStatus.PACKED)

    @property
    def load_memory(self) -> int:
        """Image bytes of UPX-packed DLLs: decompressed into private memory in every process."""
        return sum(f.image_size for f in self.upx_packed)

    @property
    def signatures_lost(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.signature_before == Signature.SIGNED
                     and f.signature_after != Signature.SIGNED)

    @property
    def cfg_lost(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.cfg_before and not f.cfg_after)


def report_dict(report: SizeReport) -> dict[str, Any]:
    r = report.result
    packed = r.lock.packed
    archive = r.archive
    return {
        "schema": "npuslim.size-report",
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool_version": __version__,
        "bundle": str(r.out),
        "platform": r.platform,
        "input": packed.input.to_dict() if packed is not None else None,
        "options": report.options,
        "upx": packed.upx.to_dict() if packed is not None and packed.upx is not None else None,
        "files": [
            {
                "path": f.path, "original": f.original_size, "after_strip": f.after_strip, "after_upx": f.after_upx,
                "final": f.final_size, "upx": f.upx_status, "upx_message": f.upx_message,
                "upx_seconds": f.upx_seconds,
                "signature_before": f.signature_before, "signature_after": f.signature_after,
                "cfg_before": f.cfg_before, "cfg_after": f.cfg_after,
                "xz_original": f.xz_original, "xz_final": f.xz_final, "strip_message": f.strip_message,
            }
            for f in report.files
        ],
        "totals": {
            "dlls_original": report.dll_original, "dlls_final": report.dll_final,
            "other_files": report.other_bytes,
            "bundle_original": report.bundle_original, "bundle_final": report.bundle_final,
            "download": {"unpacked_xz": r.download.unpacked, "packed_xz": r.download.packed,
                         "measured_as": r.download.measured_as or None},
            "archive": {"path": str(archive.path), "format": archive.format, "size": archive.size}
            if archive else None,
        },
        "comparison": {
            "source_install": report.source_size, "source_install_measured_as": report.source_size_how,
            "baseline": report.baseline,
            "bundle_share_of_source": report.bundle_final / report.source_size if report.source_size else None,
            "bundle_share_of_baseline": report.bundle_final / report.baseline if report.baseline else None,
        },
        "costs": {
            "signatures_removed": list(report.signatures_lost),
            "cfg_disabled": list(report.cfg_lost),
            "upx_load_time_private_memory": report.load_memory,
        },
        "budget": r.budget,
        "sbom": str(r.sbom) if r.sbom else None,
        "run": {"seconds": round(r.seconds, 3), "cache_hits": r.cache_hits, "cache_misses": r.cache_misses,
                "warnings": list(r.warnings)},
    }


def report_json(report: SizeReport) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def options_line(options: dict[str, Any]) -> str:
    """The options in one line, every recorded option named (Markdown and terminal)."""
    upx = (f"UPX level {options.get('upx_level')}, force CFG: {'yes' if options.get('upx_force_cfg') else 'no'}, "
           f"exclude: {', '.join(options.get('upx_exclude') or []) or 'none'}") if options.get("upx") else "UPX: no"
    return (f"Strip: {'yes' if options.get('strip') else 'no'} · {upx} · archive: {options.get('archive')} · "
            f"compare download: {'yes' if options.get('compare_download') else 'no'}")


def strip_groups(report: SizeReport) -> dict[str, list[str]]:
    """The files of a Linux report grouped by what strip did (``kept: already stripped: ...``)."""
    groups: dict[str, list[str]] = {}
    for f in report.files:
        if f.strip_message:
            groups.setdefault(f.strip_message, []).append(f.path)
    return groups


def report_markdown(report: SizeReport) -> str:
    """The size report as Markdown: the files, the bundle against the install, the trade-off, notes, a chart."""
    r = report.result
    upx = r.lock.packed.upx if r.lock.packed is not None else None
    lines = [f"# npuslim size report: `{r.out.name}`", "",
             options_line(report.options) + (f" · UPX {upx.version}" if upx else "")]
    lines += _files_table(report)
    lines += _against_install(report)
    lines += _trade_off(report)
    lines += _notes(report)
    lines += _chart(report)
    return "\n".join(lines)


def _files_table(report: SizeReport) -> list[str]:
    lines = ["", "| file | original | after strip | after UPX | final | UPX |", "|---|---:|---:|---:|---:|---|"]
    for f in report.files:
        note = f.upx_status if not f.upx_message else f"{f.upx_status}: {f.upx_message}"
        if f.upx_seconds is not None:
            note += f" ({f.upx_seconds:.1f} s)"
        lines.append(
            f"| `{f.path}` | {format_size(f.original_size)} | "
            f"{format_size(f.after_strip) if f.after_strip is not None else '-'} | "
            f"{format_size(f.after_upx) if f.after_upx is not None else '-'} | {format_size(f.final_size)} | "
            f"{note.replace('|', '/')} |"
        )
    others = f"headers, {report.traits.link_files}, licences"
    lines.append(f"| {others} | {format_size(report.other_bytes)} | | | "
                 f"{format_size(report.other_bytes)} | |")
    lines.append(f"| **bundle** | **{format_size(report.bundle_original)}** | | | "
                 f"**{format_size(report.bundle_final)}** | |")
    return lines


def _against_install(report: SizeReport) -> list[str]:
    return ["", "## Against the full install", "",
            "| | size | bundle share |", "|---|---:|---:|",
            (f"| source install ({report.source_size_how}) | {format_size(report.source_size)} | "
            f"{percent(report.bundle_final, report.source_size)} |"),
            (f"| baseline (full OpenVINO install of the original plan) | {format_size(report.baseline)} | "
            f"{percent(report.bundle_final, report.baseline)} |"), ""]


def _trade_off(report: SizeReport) -> list[str]:
    r, d = report.result, report.result.download
    lines = ["## The trade-off", "",
             "| | unpacked bundle | packed bundle |", "|---|---:|---:|",
             f"| installed on disk | {format_size(report.bundle_original)} | {format_size(report.bundle_final)} |"]
    if d.packed is not None:
        lines.append(f"| download ({d.measured_as}) | "
                     f"{format_size(d.unpacked) if d.unpacked is not None else 'not measured'} | "
                     f"{format_size(d.packed)} |")
    else:
        lines.append("| download (xz) | not measured (`--compare-download`) | |")
    if r.archive is not None:
        lines.append(f"| this archive (`{r.archive.path.name}`) | | {format_size(r.archive.size)} |")
    lines.append("")
    return lines


def _notes(report: SizeReport) -> list[str]:
    """What packing cost besides bytes: signatures, CFG, load-time memory, the size budget."""
    r = report.result
    lines = []
    lost_sig, lost_cfg = report.signatures_lost, report.cfg_lost
    kind = report.traits.binary
    if not report.traits.signatures:
        for message, paths in strip_groups(report).items():
            lines.append(f"- Strip, {message}: {', '.join(f'`{p}`' for p in paths)}.")
        lines.append("- Signatures and Control Flow Guard: not applicable (ELF shared objects).")
    else:
        lines.append(f"- Signatures removed: {len(lost_sig)} file(s)"
                     + (f" ({', '.join(f'`{p}`' for p in lost_sig)}): they no longer carry their Authenticode "
                        "signature." if lost_sig else "."))
        lines.append(f"- Control Flow Guard turned off: {len(lost_cfg)} file(s)"
                     + (f" ({', '.join(f'`{p}`' for p in lost_cfg)})." if lost_cfg else "."))
    if report.upx_packed:
        lines.append(f"- Load-time memory: {len(report.upx_packed)} UPX-packed {kind}(s) decompress "
                     f"{format_size(report.load_memory)} of image into private memory in every process "
                     "that loads them (not shared, not paged from disk).")
    else:
        lines.append(f"- No {kind} was UPX-packed: nothing is decompressed at load time.")
    if r.budget is not None:
        for subject in r.budget["subjects"]:
            state = (f"**over** by {format_size(subject['over_by'])}" if subject["verdict"] == "over"
                     else f"{format_size(r.budget['limit'] - subject['size'])} to spare")
            lines.append(f"- Size budget {r.budget['limit_text']} ({r.budget['origin']}): {subject['name']} "
                         f"{format_size(subject['size'])}, {state}.")
    return lines


def _chart(report: SizeReport) -> list[str]:
    r, d = report.result, report.result.download
    bars = [("bundle", report.bundle_original), ("packed bundle", report.bundle_final)]
    if d.unpacked is not None:
        bars.append(("xz of bundle", d.unpacked))
    if d.packed is not None:
        bars.append(("xz of packed", d.packed))
    if r.archive is not None:
        bars.append(("archive", r.archive.size))
    return ["", "```mermaid", "xychart-beta", '  title "Bundle size (MB)"',
            "  x-axis [" + ", ".join(f'"{name}"' for name, _ in bars) + "]",
            '  y-axis "MB"',
            "  bar [" + ", ".join(_mb(v) for _, v in bars) + "]",
            "```", ""]
