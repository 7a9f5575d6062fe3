"""Forwarded exports: a DLL that exports ``f`` as ``b.f`` makes Windows load ``b.dll``.

When the loader binds an import of ``a.dll!f`` and ``f`` is a forwarder (its
export entry holds the text ``b.f``, or ``b.#3`` for an ordinal), it loads
``b.dll`` (searched like a dependency of ``a.dll``) and binds ``b.dll!f`` instead,
which may forward again. This happens per import, when the import is bound: for
a static import while the importer loads, for a delay import at its first call.
So a forwarder matters only when some DLL of the closure imports it; an export
that nothing imports loads its target only if the application asks for it by
``GetProcAddress``, which no table shows (and which fails there, not at load).

The closure therefore follows exactly the forwarded exports its files import
(``follow_forwards``): each adds an edge of kind ``forward`` from the
forwarding DLL to its target, and the target joins the closure when it is not
there yet. Whether the symbol at the end of a chain exists, or the chain runs in
a loop, is checked with the other symbols (``npuslim.analyse.symbols``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from npuslim.formats.pe_tables import ExportIndex, ImportedSymbol, read_forwarders


def split_forwarder(text: str) -> tuple[str, str]:
    """``"b.f"`` -> ``("b.dll", "f")``; ``"b.#3"`` -> ``("b.dll", "#3")``.

    The module name ends at the last dot (as Wine's loader reads it); ``.dll`` is added unless it
    is there. A text without a dot names no module: ``("", text)``.
    """
    module, dot, symbol = text.rpartition(".")
    if not dot or not module:
        return "", text
    return (module if module.lower().endswith(".dll") else f"{module}.dll"), symbol


def symbol_label(sym: ImportedSymbol) -> str:
    """An imported symbol as the export tables name it: its name, or ``#N`` for an ordinal."""
    return sym.name if sym.name is not None else f"#{sym.ordinal}"


@dataclass(frozen=True)
class Forward:
    """One forwarded export the closure needs: ``exporter!symbol`` forwards to ``target``
    (``DLL.symbol`` as written), because ``wanted_by`` imports it or forwards to it."""

    exporter: str
    symbol: str
    target: str
    wanted_by: str

    @property
    def target_dll(self) -> str:
        return split_forwarder(self.target)[0]

    @property
    def target_symbol(self) -> str:
        return split_forwarder(self.target)[1]

    def reason(self) -> str:
        return (f"forwarded export of {self.exporter}: {self.wanted_by} needs {self.symbol}, "
                f"which {self.exporter} forwards to {self.target}")


class ForwardIndex:
    """The forwarders of each file, read once (``None``: the file forwards nothing)."""

    def __init__(self) -> None:
        self._by_path: dict[Path, ExportIndex | None] = {}

    def of(self, path: Path) -> ExportIndex | None:
        if path not in self._by_path:
            self._by_path[path] = read_forwarders(path)
        return self._by_path[path]


def follow_forwards(wanted: Iterable[tuple[str, str, str]], exporter_path: Callable[[str], Path | None],
                    on_forward: Callable[[Forward], None], *, index: ForwardIndex,
                    followed: set[tuple[str, str]]) -> None:
    """The forwards behind ``wanted`` ``(exporter DLL, symbol, who wants it)``, each chain followed
    to its end: a forward's target symbol is wanted from the target DLL in turn. ``on_forward``
    is called with each forward before its target is looked at (the closure adds the target there).

    ``exporter_path`` gives the file of a DLL of the closure (``None`` for one outside it, whose
    exports are the target's business). ``followed`` holds the ``(DLL, symbol)`` pairs already
    followed, lower-cased DLL names; it is updated, so a loop ends instead of hanging.
    """
    pending = list(wanted)
    while pending:
        dll, symbol, by = pending.pop()
        if (dll.lower(), symbol) in followed:
            continue
        followed.add((dll.lower(), symbol))
        path = exporter_path(dll)
        table = index.of(path) if path is not None else None
        target = table.forward_of(symbol) if table is not None else None
        if target is None:
            continue
        forward = Forward(dll, symbol, target, by)
        if forward.target_dll:
            on_forward(forward)
            pending.append((forward.target_dll, forward.target_symbol, dll))
