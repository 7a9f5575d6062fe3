"""Which exports of each bundled DLL the rest of the closure really imports.

For every DLL of a closure, its export table (names and ordinals) is set against
the import and delay-import tables of the other DLLs: an export counts as used
when another DLL of the closure imports it by name or by ordinal. This is what
import tables show and nothing more: a plugin reaches most of ``openvino.dll``
through C++ virtual calls on objects it is handed, and run-time loaded DLLs are
entered through ``GetProcAddress``; neither appears here.

The tables themselves are read by ``npuslim.formats.pe_tables``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from npuslim.formats.pe_tables import ImportedSymbol, read_symbol_tables


@dataclass(frozen=True)
class UsedExport:
    """An export of a DLL that other DLLs of the closure import, and which ones."""

    name: str | None
    ordinal: int
    importers: tuple[str, ...]


@dataclass(frozen=True)
class ExportUsage:
    """How much of one DLL's export table the rest of the closure imports.

    ``unmatched`` are symbols other DLLs import from it that its export table does
    not have (a mismatched build; empty for a consistent install).
    """

    dll: str
    path: Path
    exported: int
    named: int
    used: tuple[UsedExport, ...]
    importers: tuple[str, ...]
    unmatched: tuple[ImportedSymbol, ...]

    @property
    def used_count(self) -> int:
        return len(self.used)

    @property
    def fraction(self) -> float:
        return self.used_count / self.exported if self.exported else 0.0


@dataclass(frozen=True)
class ExportReport:
    """Export usage for every DLL of a closure, in the closure's order."""

    dlls: tuple[ExportUsage, ...]

    def get(self, name: str) -> ExportUsage | None:
        lower = name.lower()
        return next((u for u in self.dlls if u.dll.lower() == lower), None)


def export_usage(dlls: Iterable[tuple[str, Path]]) -> ExportReport:
    """For each ``(name, path)`` DLL: which of its exports the others import.

    Import names are matched case-insensitively on the DLL name and exactly on the
    symbol; an import by ordinal matches the export with that ordinal. A DLL's
    imports from itself do not count.
    """
    tables = [(name, read_symbol_tables(path)) for name, path in dlls]
    wanted: dict[str, dict[tuple[str | None, int | None], list[str]]] = {}
    for importer, table in tables:
        for sym in table.imports:
            target = sym.dll.lower()
            if target == importer.lower():
                continue
            users = wanted.setdefault(target, {}).setdefault((sym.name, sym.ordinal), [])
            if importer not in users:
                users.append(importer)
    usages = []
    for name, table in tables:
        asked = wanted.get(name.lower(), {})
        by_name = {e.name: e for e in table.exports if e.name is not None}
        by_ordinal = {e.ordinal: e for e in table.exports}
        used: dict[int, list[str]] = {}
        unmatched = []
        for (sym_name, ordinal), users in asked.items():
            export = by_name.get(sym_name) if sym_name is not None else by_ordinal.get(ordinal or -1)
            if export is None:
                unmatched.append(ImportedSymbol(name, sym_name, ordinal, False))
                continue
            merged = used.setdefault(export.ordinal, [])
            merged.extend(u for u in users if u not in merged)
        usages.append(ExportUsage(
            dll=name,
            path=table.path,
            exported=len(table.exports),
            named=sum(1 for e in table.exports if e.name is not None),
            used=tuple(UsedExport(by_ordinal[o].name, o, tuple(sorted(u, key=str.lower)))
                       for o, u in sorted(used.items(), key=lambda kv: (by_ordinal[kv[0]].name or "", kv[0]))),
            importers=tuple(sorted({u for users in asked.values() for u in users}, key=str.lower)),
            unmatched=tuple(sorted(unmatched, key=lambda s: (s.name or "", s.ordinal or 0))),
        ))
    return ExportReport(tuple(usages))


EXPORTS_SCHEMA_VERSION = 1


def report_to_dict(report: ExportReport, *, source: dict[str, object], roots: tuple[str, ...]) -> dict[str, object]:
    """The report as the JSON document of ``npuslim/schemas/exports.schema.json``."""
    from npuslim import __version__

    return {
        "schema": "npuslim.exports",
        "schema_version": EXPORTS_SCHEMA_VERSION,
        "tool_version": __version__,
        "source": source,
        "roots": list(roots),
        "dlls": [
            {
                "name": u.dll,
                "path": str(u.path),
                "exported": u.exported,
                "named": u.named,
                "used": u.used_count,
                "importers": list(u.importers),
                "used_exports": [{"name": e.name, "ordinal": e.ordinal, "importers": list(e.importers)}
                                 for e in u.used],
                "unmatched": [{"name": s.name, "ordinal": s.ordinal} for s in u.unmatched],
            }
            for u in report.dlls
        ],
    }
