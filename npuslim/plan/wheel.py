"""Planning a slim wheel: which members of the official wheel it keeps, drops, rewrites, and why.

Nothing is written here. The binaries kept are the closure of the NPU
manifest's roots and selected features (the same graph as ``extract``), of
the Python extension modules kept (``_pyopenvino`` and the selected Python
frontends, each a root of its own graph, its imports found in the wheel's
library folder and, on Windows, checked symbol by symbol) and of the extra
device manifests (``--with cpu``). Every other binary of the library folder
is dropped, and so are the C/C++ development files (headers, CMake config).
A dropped Python frontend package becomes one ``__init__.py`` that raises an
``ImportError`` naming the feature; ``import openvino`` is checked not to
reach such a stub except through an import that catches the error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from npuslim import __version__
from npuslim.analyse.graph import Node
from npuslim.analyse.python_imports import EagerImport, eager_imports, module_name
from npuslim.errors import InputError
from npuslim.paths import is_within
from npuslim.plan.wheel_closure import WheelClosure, WheelInputs
from npuslim.plan.wheel_features import WheelFeatures
from npuslim.source.wheel_members import WheelMember

LOCK_NAME = "npuslim-wheel.json"
PACKAGE = "openvino"
DEV_FOLDERS = ("include", "cmake")
_VERSION_LINE = re.compile(r"^Version:[ \t]*(\S+)(?=[ \t\r]*$)", re.MULTILINE)
_EXTENSION = re.compile(r"(\.pyd|\.(cpython-[^./]+|abi3)\.so)$")


@dataclass(frozen=True)
class WheelEntry:
    """One file of the slim wheel: copied from ``source`` (a member of the official wheel) or ``data``."""

    name: str
    reason: str
    source: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class WheelPlan:
    """The slim wheel, decided: its file name, version, entries and what was dropped."""

    source_wheel: Path
    filename: str
    version: str
    features: WheelFeatures
    entries: tuple[WheelEntry, ...]
    dropped: tuple[tuple[str, int, str], ...]   # (member, size, reason)
    eager: tuple[EagerImport, ...]
    warnings: tuple[str, ...]
    dist_info: str


def is_extension(name: str) -> bool:
    """A Python extension module (``x.cp311-win_amd64.pyd``, ``x.cpython-311-x86_64-linux-gnu.so``)."""
    return bool(_EXTENSION.search(name))


def frontends_in(listing: tuple[WheelMember, ...]) -> dict[str, tuple[str, ...]]:
    """The Python frontend packages of the wheel: name -> their extension modules."""
    found: dict[str, list[str]] = {}
    for m in listing:
        parts = m.name.split("/")
        if len(parts) == 4 and parts[:2] == [PACKAGE, "frontend"] and is_extension(parts[3]):
            found.setdefault(parts[2], []).append(m.name)
    return {k: tuple(v) for k, v in sorted(found.items())}


def extensions_to_keep(listing: tuple[WheelMember, ...], features: WheelFeatures) -> tuple[str, ...]:
    """The extension modules the slim wheel keeps: every one outside a dropped frontend package."""
    dropped = {fe for fe in frontends_in(listing) if fe not in features.frontends}
    return tuple(m.name for m in listing if is_extension(m.name) and not _in_frontend(m.name, dropped))


def _in_frontend(name: str, frontends: set[str]) -> str | None:
    parts = name.split("/")
    if len(parts) > 3 and parts[:2] == [PACKAGE, "frontend"] and parts[2] in frontends:
        return parts[2]
    return None


def python_sources(listing: tuple[WheelMember, ...]) -> tuple[str, ...]:
    """The Python source files of the package (read to check what ``import openvino`` imports)."""
    return tuple(m.name for m in listing if m.name.startswith(PACKAGE + "/") and m.name.endswith(".py"))


def dist_info_of(listing: tuple[WheelMember, ...]) -> str:
    """The wheel's one ``.dist-info`` folder, or an ``InputError``."""
    found = {m.name.split("/")[0] for m in listing if m.name.split("/")[0].endswith(".dist-info")}
    if len(found) != 1:
        raise InputError(f"the wheel has {len(found)} .dist-info folders, expected one")
    return found.pop()


def plan_wheel(inputs: WheelInputs, features: WheelFeatures) -> WheelPlan:
    """Decide every member of the slim wheel (see the module docstring); raises
    ``MissingDependencyError`` when a closure is not whole, ``InputError`` when ``import openvino``
    would import a dropped module outside a guarded import, or the wheel is not as expected."""
    wheel = inputs.install.wheel
    if wheel is None:
        raise InputError(f"{inputs.install.origin}: not a wheel")
    closure = WheelClosure.build(inputs, features)
    kept = {_member_of(node, inputs): node for node in closure.files}
    old_info = dist_info_of(inputs.listing)
    metadata = inputs.texts[f"{old_info}/METADATA"]
    version = f"{_metadata_version(metadata)}+{features.label}"
    new_info = f"{old_info[:-len('.dist-info')].rsplit('-', 1)[0]}-{version}.dist-info"
    dropped_fe = set(frontends_in(inputs.listing)) - features.frontends
    entries, dropped = _classify(inputs, kept, dropped_fe, old_info, new_info)
    entries.append(WheelEntry(f"{new_info}/METADATA", "the official METADATA with the local version",
                              data=_with_version(metadata, version).encode()))
    eager = _eager(inputs, dropped_fe)
    entries += _stubs(dropped_fe, version)
    plan = WheelPlan(source_wheel=wheel, filename=_filename(wheel.name, features.label), version=version,
                     features=features, entries=tuple(entries), dropped=tuple(dropped), eager=eager,
                     warnings=closure.warnings, dist_info=new_info)
    lock = WheelEntry(f"{new_info}/{LOCK_NAME}", "what npuslim kept and why", data=lock_json(plan, kept))
    return WheelPlan(**{**plan.__dict__, "entries": (*plan.entries, lock)})


def _member_of(node: Node, inputs: WheelInputs) -> str:
    assert node.path is not None
    for base in (inputs.extension_dir, inputs.install.root):
        if is_within(node.path, base):
            return node.path.resolve().relative_to(base.resolve()).as_posix()
    raise InputError(f"{node.path}: a file of the closure outside the wheel")


def _classify(inputs: WheelInputs, kept: dict[str, Node], dropped_fe: set[str], old_info: str,
              new_info: str) -> tuple[list[WheelEntry], list[tuple[str, int, str]]]:
    """Each member: kept (renamed into the new dist-info), dropped with a reason, or regenerated."""
    lib_dir = inputs.install.dll_dir.resolve().relative_to(inputs.install.root.resolve()).as_posix() + "/"
    dev = tuple(f"{PACKAGE}/{d}/" for d in DEV_FOLDERS)
    entries: list[WheelEntry] = []
    dropped: list[tuple[str, int, str]] = []
    for m in inputs.listing:
        fe = _in_frontend(m.name, dropped_fe)
        if m.name in kept:
            entries.append(WheelEntry(m.name, " -> ".join(kept[m.name].chain), source=m.name))
        elif m.name in (f"{old_info}/RECORD", f"{old_info}/METADATA"):
            continue  # regenerated
        elif m.name.startswith(old_info + "/"):
            entries.append(WheelEntry(new_info + m.name[len(old_info):], "dist-info", source=m.name))
        elif fe is not None:
            dropped.append((m.name, m.size, f"Python frontend {fe} not selected (--with {fe})"))
        elif m.name.startswith(lib_dir) or is_extension(m.name):
            dropped.append((m.name, m.size, "not in the closure of the kept roots"))
        elif m.name.startswith(dev):
            dropped.append((m.name, m.size, "C/C++ development file (headers, CMake config)"))
        else:
            entries.append(WheelEntry(m.name, "Python package", source=m.name))
    return entries, dropped


def _eager(inputs: WheelInputs, dropped_fe: set[str]) -> tuple[EagerImport, ...]:
    """Chains from ``import openvino`` to a dropped frontend; an unguarded one is an ``InputError``."""
    targets = frozenset(f"{PACKAGE}.frontend.{fe}" for fe in dropped_fe)
    sources = {mod: text for name, text in inputs.texts.items()
               if (mod := module_name(name)) is not None and not any(mod.startswith(t + ".") for t in targets)}
    found = eager_imports(sources, PACKAGE, targets)
    for chain in found:
        if not chain.guarded:
            raise InputError(f"import {PACKAGE} would import the dropped {chain.chain[-1]} "
                             f"({' -> '.join(chain.chain)}); keep it with --with {chain.chain[-1].split('.')[-1]}")
    return found


def _stubs(dropped_fe: set[str], version: str) -> list[WheelEntry]:
    entries = []
    for fe in sorted(dropped_fe):
        text = (f'"""The {fe} frontend, dropped by npuslim wheel from openvino {version}."""\n\n'
                f"raise ImportError(\n    \"{PACKAGE}.frontend.{fe}: the {fe} frontend was dropped by npuslim wheel "
                f"from openvino {version}; rebuild the wheel with --with {fe}\",\n    name=__name__,\n)\n")
        entries.append(WheelEntry(f"{PACKAGE}/frontend/{fe}/__init__.py", f"stub for the dropped {fe} frontend",
                                  data=text.encode()))
    return entries


def _metadata_version(metadata: str) -> str:
    match = _VERSION_LINE.search(metadata)
    if match is None:
        raise InputError("the wheel's METADATA has no Version")
    if "+" in match.group(1):
        raise InputError(f"the wheel's version {match.group(1)} already has a local label: not an official wheel")
    return match.group(1)


def _with_version(metadata: str, version: str) -> str:
    return _VERSION_LINE.sub(f"Version: {version}", metadata, count=1)


def _filename(official: str, label: str) -> str:
    """``openvino-2026.4.1-22982-cp311-cp311-win_amd64.whl`` -> ``openvino-2026.4.1+npu-22982-...``."""
    parts = official[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise InputError(f"{official}: not a wheel file name")
    parts[1] = f"{parts[1]}+{label}"
    return "-".join(parts) + ".whl"


def lock_json(plan: WheelPlan, kept: dict[str, Node]) -> bytes:
    """The dist-info's ``npuslim-wheel.json``: the features, each binary kept with its chain, every
    member dropped with its reason, the guarded eager imports and the warnings."""
    data = {
        "schema": "npuslim.wheel", "schema_version": 1, "tool_version": __version__,
        "source_wheel": plan.source_wheel.name, "wheel": plan.filename, "version": plan.version,
        "features": list(plan.features.names),
        "binaries": [{"name": name, "size": node.size, "chain": list(node.chain), "reason": node.reason}
                     for name, node in sorted(kept.items())],
        "dropped": [{"name": n, "size": s, "reason": r} for n, s, r in plan.dropped],
        "eager_imports": [{"chain": list(e.chain), "guarded": e.guarded} for e in plan.eager],
        "warnings": list(plan.warnings),
    }
    return (json.dumps(data, indent=2) + "\n").encode()
