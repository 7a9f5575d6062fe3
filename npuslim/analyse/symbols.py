"""Imports resolved by symbol: every name a bundled DLL imports from another bundled
DLL must be in that DLL's export table.

A DLL name that resolves is not enough: Windows' loader also binds every imported
symbol, and a DLL built against another release of its dependency fails to load
("The specified procedure could not be found") when one is missing. ONNX Runtime's
OpenVINO provider, for one, imports 364 C++ symbols of ``openvino.dll`` that only
some OpenVINO releases export.

Only imports between files of the closure are checked; Windows system DLLs, API
sets and the MSVC runtime are the target's. Forwarded exports are followed to the
DLL they name when that DLL is part of the closure (``npuslim.analyse.forwarders``
adds those DLLs to it): the symbol must be there, and a chain of forwards that
comes back to where it was is a missing symbol too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from npuslim.analyse.forwarders import split_forwarder, symbol_label
from npuslim.formats.pe_tables import ExportIndex, read_export_index, read_symbol_tables


@dataclass(frozen=True)
class MissingSymbols:
    """Symbols ``importer`` imports from ``dll`` that ``dll`` does not export
    (mangled names, or ``#ordinal`` for imports by ordinal), sorted.

    ``forwarding`` explains those lost through forwarded exports, one line each: the import
    named another DLL, whose export forwards (maybe through more DLLs) to ``dll``, which lacks
    it; or the forwards run in a loop (then ``dll`` is the DLL imported from).
    """

    importer: str
    dll: str
    symbols: tuple[str, ...]
    delay: bool = False
    forwarding: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.symbols)

    def describe(self, examples: int = 3) -> str:
        """``openvino.dll lacks 40 symbols that X imports (A, B, C, ...)``."""
        names = list(dict.fromkeys(demangle(s) for s in self.symbols))  # overloads read alike
        shown = ", ".join(names[:examples])
        more = ", ..." if len(names) > examples else ""
        noun = "symbol" if self.count == 1 else "symbols"
        kind = " (delay-loaded)" if self.delay else ""
        forwarding = f"; {'; '.join(self.forwarding[:examples])}" if self.forwarding else ""
        return f"{self.dll} lacks {self.count} {noun} that {self.importer} imports{kind} ({shown}{more}{forwarding})"


@dataclass(frozen=True)
class _Lost:
    """Where the search for one imported symbol ended without finding it."""

    dll: str            # the DLL that lacks it (the one imported from, for a loop)
    symbol: str         # the symbol as that DLL was asked for it
    forwarding: str     # "" for a plain missing export


def check_symbols(files: Iterable[tuple[str, Path]]) -> tuple[MissingSymbols, ...]:
    """Check the imports between ``files`` (``(name, path)`` of every DLL of a closure).

    Reads the import tables of all of them and the export tables of those another one
    imports from; a forwarded export is followed to the DLL it names (when that DLL is
    one of ``files``) and its symbol checked there, a loop of forwards is a missing
    symbol. Returns every importer/DLL pair with missing symbols, in input order.
    """
    paths = {name.lower(): (name, path) for name, path in files}
    tables = {key: read_symbol_tables(path, exports=False) for key, (_name, path) in paths.items()}
    exports: dict[str, ExportIndex] = {}

    def index(key: str) -> ExportIndex:
        if key not in exports:
            exports[key] = read_export_index(paths[key][1])
        return exports[key]

    out: list[MissingSymbols] = []
    for key, table in tables.items():
        wanted: dict[tuple[str, bool], tuple[list[str], list[str]]] = {}
        for sym in table.imports:
            target = sym.dll.lower()
            if target == key or target not in paths:
                continue
            lost = _lost(symbol_label(sym), target, index, paths)
            if lost is not None:
                symbols, notes = wanted.setdefault((lost.dll.lower(), sym.delay), ([], []))
                symbols.append(lost.symbol)
                notes.extend([lost.forwarding] if lost.forwarding else [])
        for (target, delay), (missing, notes) in wanted.items():
            out.append(MissingSymbols(paths[key][0], paths[target][0], tuple(sorted(set(missing))), delay,
                                      tuple(sorted(set(notes)))))
    return tuple(out)


def _lost(symbol: str, dll: str, index: Callable[[str], ExportIndex],
          paths: dict[str, tuple[str, Path]]) -> _Lost | None:
    """Follow ``dll!symbol`` through forwarded exports; ``None`` when it is found (or forwarded to
    a DLL outside ``paths``, whose exports are the target's business)."""
    hops = [f"{paths[dll][0]}!{symbol}"]
    seen = {(dll, symbol)}
    current, name = dll, symbol
    while True:
        table = index(current)
        if not table.has(name):
            if len(hops) == 1:
                return _Lost(paths[dll][0], symbol, "")
            return _Lost(paths[current][0], name, f"{symbol} forwarded {' -> '.join(hops)}, "
                                                  f"which {paths[current][0]} does not export")
        forward = table.forward_of(name)
        if forward is None:
            return None
        target_dll, target_name = split_forwarder(forward)
        target = target_dll.lower()
        if target not in paths:
            return None
        hops.append(f"{paths[target][0]}!{target_name}")
        if (target, target_name) in seen:
            return _Lost(paths[dll][0], symbol, f"{symbol}: forwarding loop {' -> '.join(hops)}")
        seen.add((target, target_name))
        current, name = target, target_name


_SPECIAL = ("0", "1")  # ??0 constructor, ??1 destructor


def demangle(symbol: str) -> str:
    """A readable qualified name for an MSVC C++ symbol: ``?load_by_model@FrontEndManager@frontend@ov@@...``
    -> ``ov::frontend::FrontEndManager::load_by_model``; templates show as ``name<...>``.

    Not a full demangler (no signature); anything it does not understand is returned as is.
    """
    if not symbol.startswith("?"):
        return symbol
    body = symbol[1:]
    special = None
    template = False
    if body.startswith("?$"):
        template, body = True, body[2:]
    elif body.startswith("?") and len(body) > 1 and body[1] in _SPECIAL:
        special, body = body[1], body[2:]
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)@", body)
    if not m:
        return symbol
    name = m.group(1)
    rest = body[m.end():]
    if template:
        # Template arguments are not decoded; the scope is the first run of names after
        # them (type codes such as _J are shorter than three letters).
        scope = re.search(r"(?<=@)((?:[A-Za-z_][A-Za-z0-9_]{2,}@)(?:[A-Za-z_][A-Za-z0-9_]*@)*)@", rest)
        if scope is None:
            return f"{name}<...>"
        return "::".join(reversed(scope.group(1).rstrip("@").split("@"))) + f"::{name}<...>"
    scopes: list[str] = []
    seen = [name]
    while rest and not rest.startswith("@"):
        if rest[0].isdigit():  # back-reference to an earlier name
            ref = int(rest[0])
            scopes.append(seen[ref] if ref < len(seen) else "?")
            rest = rest[1:]
            continue
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)@", rest)
        if not m:
            return symbol
        scopes.append(m.group(1))
        seen.append(m.group(1))
        rest = rest[m.end():]
    qualified = "::".join(reversed(scopes))
    if special is not None:  # a constructor or destructor: Class::Class, Class::~Class
        name = f"{name}::{'~' if special == '1' else ''}{name}"
    return f"{qualified}::{name}" if qualified else name
