"""The size report of a packed bundle: data, JSON (schema-versioned) and Markdown.

Honest by construction: every number is measured (file sizes on disk, xz
streams actually compressed), and what UPX costs (signatures, Control Flow
Guard, load-time memory) is reported beside what it saves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from npuslim import __version__
from npuslim.pack import PackResult
from npuslim.units import format_size, percent

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SizeReport:
    result: PackResult
    source_size: int
    source_size_how: str
    baseline: int

    @property
    def dll_original(self) -> int:
        return sum(f.original_size for f in self.result.files)

    @property
    def dll_final(self) -> int:
        return sum(f.final_size for f in self.result.files)

    @property
    def bundle_original(self) -> int:
        return self.dll_original + self.result.other_bytes

    @property
    def bundle_final(self) -> int:
        return self.dll_final + self.result.other_bytes

    @property
    def xz_unpacked(self) -> int:
        return sum(f.xz_original or 0 for f in self.result.files) + self.result.other_xz

    @property
    def xz_packed(self) -> int:
        return sum(f.xz_final or 0 for f in self.result.files) + self.result.other_xz

    @property
    def upx_packed(self) -> tuple:
        return tuple(f for f in self.result.files if f.upx_status == "packed")

    @property
    def load_memory(self) -> int:
        """Image bytes of UPX-packed DLLs: decompressed into private memory in every process."""
        return sum(f.image_size for f in self.upx_packed)

    @property
    def signatures_lost(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.result.files
                     if f.signature_before == "signed" and f.signature_after != "signed")

    @property
    def cfg_lost(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.result.files if f.cfg_before and not f.cfg_after)


def report_dict(report: SizeReport) -> dict[str, Any]:
    r = report.result
    upx = r.upx
    return {
        "schema": "npuslim.size-report",
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool_version": __version__,
        "bundle": str(r.bundle),
        "options": {
            "strip": r.options.strip, "upx": r.options.upx, "upx_level": r.options.upx_level or "default",
            "upx_force_cfg": r.options.upx_force_cfg, "upx_exclude": list(r.options.upx_exclude),
            "archive": r.options.archive, "jobs": r.options.jobs,
        },
        "upx": {"path": str(upx.path), "version": upx.version_text} if upx else None,
        "files": [
            {
                "path": f.path, "original": f.original_size, "after_strip": f.after_strip, "after_upx": f.after_upx,
                "final": f.final_size, "upx": f.upx_status, "upx_message": f.upx_message,
                "upx_seconds": round(f.upx_seconds, 3) if f.upx_seconds is not None else None,
                "signature_before": f.signature_before, "signature_after": f.signature_after,
                "cfg_before": f.cfg_before, "cfg_after": f.cfg_after,
                "xz_original": f.xz_original, "xz_final": f.xz_final,
            }
            for f in r.files
        ],
        "totals": {
            "dlls_original": report.dll_original, "dlls_final": report.dll_final,
            "other_files": r.other_bytes,
            "bundle_original": report.bundle_original, "bundle_final": report.bundle_final,
            "xz_of_unpacked_bundle": report.xz_unpacked, "xz_of_packed_bundle": report.xz_packed,
            "archive": {"path": str(r.archive), "format": r.options.archive, "size": r.archive_size}
            if r.archive else None,
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
        "seconds": round(r.seconds, 3),
    }


def report_json(report: SizeReport) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def report_markdown(report: SizeReport) -> str:
    r = report.result
    lines = [f"# npuslim size report: `{r.bundle.name}`", ""]
    upx = f"UPX {r.upx.version_text}, level {r.options.upx_level or 'default'}" if r.upx else "no UPX"
    lines.append(f"Strip: {'yes' if r.options.strip else 'no'} · {upx} · archive: {r.options.archive}")
    lines += ["", "| file | original | after strip | after UPX | final | UPX |", "|---|---:|---:|---:|---:|---|"]
    for f in r.files:
        note = f.upx_status if not f.upx_message else f"{f.upx_status}: {f.upx_message}"
        if f.upx_seconds is not None:
            note += f" ({f.upx_seconds:.1f} s)"
        lines.append(
            f"| `{f.path}` | {format_size(f.original_size)} | "
            f"{format_size(f.after_strip) if f.after_strip is not None else '-'} | "
            f"{format_size(f.after_upx) if f.after_upx is not None else '-'} | {format_size(f.final_size)} | "
            f"{note.replace('|', '/')} |"
        )
    lines.append(f"| headers, import libraries, licences | {format_size(r.other_bytes)} | | | "
                 f"{format_size(r.other_bytes)} | |")
    lines.append(f"| **bundle** | **{format_size(report.bundle_original)}** | | | "
                 f"**{format_size(report.bundle_final)}** | |")
    lines += ["", "## Against the full install", "",
              "| | size | bundle share |", "|---|---:|---:|",
              f"| source install ({report.source_size_how}) | {format_size(report.source_size)} | "
              f"{percent(report.bundle_final, report.source_size)} |",
              f"| baseline (full OpenVINO install of the original plan) | {format_size(report.baseline)} | "
              f"{percent(report.bundle_final, report.baseline)} |", ""]
    lines += ["## The trade-off", "",
              "| | unpacked bundle | packed bundle |", "|---|---:|---:|",
              f"| installed on disk | {format_size(report.bundle_original)} | {format_size(report.bundle_final)} |",
              f"| download (xz -9 of the files) | {format_size(report.xz_unpacked)} | "
              f"{format_size(report.xz_packed)} |"]
    if r.archive is not None and r.archive_size is not None:
        lines.append(f"| this archive (`{r.archive.name}`) | | {format_size(r.archive_size)} |")
    lines.append("")
    lost_sig, lost_cfg = report.signatures_lost, report.cfg_lost
    lines.append(f"- Signatures removed: {len(lost_sig)} file(s)"
                 + (f" ({', '.join(f'`{p}`' for p in lost_sig)}): they no longer carry Intel's Authenticode "
                    "signature." if lost_sig else "."))
    lines.append(f"- Control Flow Guard turned off: {len(lost_cfg)} file(s)"
                 + (f" ({', '.join(f'`{p}`' for p in lost_cfg)})." if lost_cfg else "."))
    if report.upx_packed:
        lines.append(f"- Load-time memory: {len(report.upx_packed)} UPX-packed DLL(s) decompress "
                     f"{format_size(report.load_memory)} of image into private memory in every process "
                     "that loads them (not shared, not paged from disk).")
    else:
        lines.append("- No DLL was UPX-packed: nothing is decompressed at load time.")
    lines += ["", "```mermaid", "xychart-beta", '  title "Bundle size (MB)"',
              '  x-axis ["bundle", "packed bundle", "xz of bundle", "xz of packed"'
              + (', "archive"]' if r.archive_size else "]"),
              '  y-axis "MB"',
              f"  bar [{_mb(report.bundle_original)}, {_mb(report.bundle_final)}, {_mb(report.xz_unpacked)}, "
              f"{_mb(report.xz_packed)}" + (f", {_mb(r.archive_size)}]" if r.archive_size else "]"),
              "```", ""]
    return "\n".join(lines)
