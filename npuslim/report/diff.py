"""What changed between two bundles, or between two OpenVINO releases as npuslim would bundle them.

Each side is a *snapshot*: a bundle folder (its manifest, and the imports read
from its DLLs), a lock file alone (no DLLs to read: imports are not
compared), or a source (folder, wheel, requirement) planned as ``extract``
would with the same planning options, and nothing written. A snapshot's
companions are the manifest's run-time companions whose files the analysis
finds: for a source, those present in its DLL folder (``bundled`` when the
selected features take them, else ``available``), whatever version range the
manifest gives them; for a bundle, those it ships.

``diff_snapshots`` compares two snapshots; ``diff_to_dict`` gives the JSON form
(``npuslim/schemas/diff.schema.json``), ``diff_to_markdown`` a Markdown report
for a CI job summary or a pull-request comment. ``parse_fail_on`` and
``fail_reasons`` implement ``--fail-on``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npuslim import __version__
from npuslim.analyse.graph import Via
from npuslim.errors import InputError, VerifyError
from npuslim.formats.binary import binary_fields
from npuslim.formats.lock import BundleLock, read_lock
from npuslim.formats.pe import read_pe
from npuslim.layout import BIN, DLL_ROLES, LOCK_FILE, Role
from npuslim.plan.bundle import BundlePlan
from npuslim.units import format_size, parse_size, shown

DIFF_SCHEMA_VERSION = 1

BUNDLE, BUNDLE_MANIFEST_KIND, SOURCE = "bundle", "bundle-manifest", "source"
ADDED, REMOVED, CHANGED = "added", "removed", "changed"
BUNDLED, AVAILABLE = "bundled", "available"


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a side; ``imports`` is ``None`` when the DLL could not be read (a manifest alone)."""

    path: str
    role: str
    size: int
    sha256: str | None
    file_version: str | None = None
    signature: str | None = None
    cfg: bool | None = None
    imports: tuple[str, ...] | None = None
    delay_imports: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Snapshot:
    label: str
    kind: str
    openvino_version: str | None
    features: tuple[str, ...]
    files: tuple[SnapshotFile, ...]
    companions: tuple[tuple[str, str], ...]   # (name, bundled | available)
    missing: tuple[str, ...]
    packed: bool = False

    def by_path(self) -> dict[str, SnapshotFile]:
        return {f.path.lower(): f for f in self.files}

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def headers(self) -> tuple[SnapshotFile, ...]:
        return tuple(f for f in self.files if f.role == Role.HEADER)


@dataclass(frozen=True)
class ImportChange:
    file: str
    name: str
    kind: str          # import | delay-import
    change: str        # added | removed


@dataclass(frozen=True)
class FileChange:
    path: str
    role: str
    status: str                      # added | removed | changed
    a: SnapshotFile | None
    b: SnapshotFile | None
    what: tuple[str, ...] = ()       # for changed: size, content, version, signature, cfg, imports
    imports: tuple[ImportChange, ...] = ()

    @property
    def size_delta(self) -> int:
        return (self.b.size if self.b else 0) - (self.a.size if self.a else 0)


@dataclass(frozen=True)
class CompanionChange:
    name: str
    a: str | None
    b: str | None

    @property
    def status(self) -> str:
        return ADDED if self.a is None else REMOVED if self.b is None else CHANGED


@dataclass(frozen=True)
class BundleDiff:
    a: Snapshot
    b: Snapshot
    files: tuple[FileChange, ...]          # headers excluded; see ``headers``
    headers: tuple[FileChange, ...]
    companions: tuple[CompanionChange, ...]
    unchanged: int
    imports_compared: bool

    @property
    def imports(self) -> tuple[ImportChange, ...]:
        return tuple(i for f in self.files for i in f.imports)

    @property
    def size_delta(self) -> int:
        return self.b.total - self.a.total

    def of_status(self, status: str, *, headers: bool = False) -> tuple[FileChange, ...]:
        return tuple(f for f in (self.headers if headers else self.files) if f.status == status)


# ---------------------------------------------------------------- snapshots


def _pe_fields(path: Path) -> dict[str, Any]:
    try:
        info = read_pe(path)
    except InputError:
        return {}
    return {"imports": info.imports, "delay_imports": info.delay_imports}


def snapshot_of_lock(lock: BundleLock, *, label: str, bundle: Path | None, kind: str) -> Snapshot:
    """A snapshot of a lock file; DLL imports are read from ``bundle`` when its files are there."""
    files = []
    for f in lock.files:
        extra: dict[str, Any] = {}
        if bundle is not None and f.role in DLL_ROLES:
            path = bundle / f.path
            if path.is_file() and path.stat().st_size == f.size:
                extra = _pe_fields(path)
        files.append(SnapshotFile(f.path, f.role, f.size, f.sha256, f.file_version, f.signature, f.cfg, **extra))
    companions = tuple(sorted((Path(f.path).name, BUNDLED) for f in lock.files if f.role == Role.COMPANION))
    return Snapshot(label, kind, lock.source.openvino_version, tuple(lock.features), tuple(files),
                    companions, tuple(m.name for m in lock.missing), lock.packed is not None)


def snapshot_of_bundle(path: Path, *, label: str | None = None) -> Snapshot:
    """A bundle folder, or its ``npuslim-bundle.json`` (then imports are read only if the DLLs sit beside it)."""
    folder, name = (path, LOCK_FILE) if path.is_dir() else (path.parent, path.name)
    try:
        lock = read_lock(folder, name)
    except VerifyError as exc:  # for diff, an unreadable bundle is unusable input
        raise InputError(str(exc)) from None
    return snapshot_of_lock(lock, label=label or str(path), bundle=folder,
                            kind=BUNDLE if path.is_dir() else BUNDLE_MANIFEST_KIND)


def snapshot_of_plan(plan: BundlePlan, *, label: str) -> Snapshot:
    """The bundle ``extract`` would make, as planned (``npuslim.pipeline.extract.plan_extract`` with
    missing files allowed; nothing written)."""
    from npuslim.paths import sha256_file

    install, manifest = plan.install, plan.manifest
    files = []
    for f in plan.files:
        recorded = binary_fields(f.info)
        tables = f.info.import_fields() if f.info else {}
        files.append(SnapshotFile(
            f.dest, f.role, f.size, sha256_file(f.source),
            recorded["file_version"], recorded["signature"], recorded["cfg"],
            f.info.imports if f.info else None, tuple(tables["delay_imports"]) if f.info else None,
        ))
    listing = {p.name.lower(): p.name for p in install.dll_dir.iterdir()} if install.dll_dir.is_dir() else {}
    planned = {Path(f.dest).name.lower() for f in plan.files}
    companions = tuple(sorted(
        (listing[c.name.lower()], BUNDLED if c.name.lower() in planned else AVAILABLE)
        for c in manifest.companions if c.name.lower() in listing
    ))
    return Snapshot(label, SOURCE, install.version, tuple(sorted(plan.features)), tuple(files), companions,
                    tuple(m.name for m in plan.missing))


def is_bundle(text: str) -> bool:
    """A bundle folder (holding a lock file) or a lock file."""
    path = Path(text)
    return (path.is_dir() and (path / LOCK_FILE).is_file()) or (path.is_file() and path.suffix == ".json")


# ---------------------------------------------------------------- diffing


def _import_changes(path: str, a: SnapshotFile, b: SnapshotFile) -> tuple[ImportChange, ...]:
    out = []
    for kind, old, new in ((Via.IMPORT, a.imports, b.imports), (Via.DELAY_IMPORT, a.delay_imports, b.delay_imports)):
        if old is None or new is None:
            continue
        old_l, new_l = {n.lower(): n for n in old}, {n.lower(): n for n in new}
        out += [ImportChange(path, new_l[k], kind, ADDED) for k in sorted(new_l.keys() - old_l.keys())]
        out += [ImportChange(path, old_l[k], kind, REMOVED) for k in sorted(old_l.keys() - new_l.keys())]
    return tuple(out)


def _compare(a: SnapshotFile, b: SnapshotFile) -> tuple[tuple[str, ...], tuple[ImportChange, ...]]:
    what = []
    if a.size != b.size:
        what.append("size")
    if a.sha256 and b.sha256 and a.sha256 != b.sha256:
        what.append("content")
    if a.file_version != b.file_version:
        what.append("version")
    if a.signature != b.signature:
        what.append("signature")
    if a.cfg != b.cfg:
        what.append("cfg")
    imports = _import_changes(b.path, a, b)
    if imports:
        what.append("imports")
    return tuple(what), imports


def diff_snapshots(a: Snapshot, b: Snapshot) -> BundleDiff:
    """Every file added, removed or changed from ``a`` to ``b``, headers apart, and the companions."""
    pa, pb = a.by_path(), b.by_path()
    files: list[FileChange] = []
    headers: list[FileChange] = []
    unchanged = 0
    for key in sorted(pa.keys() | pb.keys()):
        fa, fb = pa.get(key), pb.get(key)
        ref = fb or fa
        assert ref is not None
        if fa is None:
            change = FileChange(ref.path, ref.role, ADDED, None, fb)
        elif fb is None:
            change = FileChange(ref.path, ref.role, REMOVED, fa, None)
        else:
            what, imports = _compare(fa, fb)
            if not what:
                unchanged += 1
                continue
            change = FileChange(ref.path, ref.role, CHANGED, fa, fb, what, imports)
        (headers if ref.role == Role.HEADER else files).append(change)
    ca, cb = dict(a.companions), dict(b.companions)
    low_a, low_b = {k.lower(): k for k in ca}, {k.lower(): k for k in cb}
    companions = []
    for key in sorted(low_a.keys() | low_b.keys()):
        sa = ca[low_a[key]] if key in low_a else None
        sb = cb[low_b[key]] if key in low_b else None
        if sa != sb:
            companions.append(CompanionChange(low_b.get(key) or low_a[key], sa, sb))
    compared = all(f.imports is not None for s in (a, b) for f in s.files
                   if f.role in DLL_ROLES and f.path.startswith(f"{BIN}/"))
    return BundleDiff(a, b, tuple(files), tuple(headers), tuple(companions), unchanged, compared)


# ---------------------------------------------------------------- --fail-on


@dataclass(frozen=True)
class FailRule:
    kind: str                 # added | removed | changed | imports | companions | size
    percent: float | None = None
    bytes: int | None = None

    @property
    def text(self) -> str:
        if self.kind != "size":
            return self.kind
        return f"size>{self.percent:g}%" if self.percent is not None else f"size>{format_size(self.bytes or 0)}"


_SIMPLE = ("added", "removed", "changed", "imports", "companions")


def parse_fail_on(text: str) -> tuple[FailRule, ...]:
    """``added,removed,size>5%`` (or ``size>2MB``) -> rules; ``ValueError`` naming a bad item."""
    rules = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item in _SIMPLE:
            rules.append(FailRule(item))
            continue
        m = re.fullmatch(r"size\s*>\s*([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*%", item, re.ASCII)
        if m:
            rules.append(FailRule("size", percent=float(m.group(1))))
            continue
        m = re.fullmatch(r"size\s*>\s*(.+)", item, re.ASCII)
        if m:
            try:
                rules.append(FailRule("size", bytes=parse_size(m.group(1))))
                continue
            except ValueError:
                pass
        raise ValueError(f"--fail-on: unknown item {shown(item, 40)} (use {', '.join(_SIMPLE)}, size>N% or size>SIZE)")
    return tuple(rules)


def fail_reasons(diff: BundleDiff, rules: tuple[FailRule, ...]) -> tuple[str, ...]:
    """What in ``diff`` trips ``rules``, one phrase each; empty when nothing does."""
    out = []
    for rule in rules:
        if rule.kind in (ADDED, REMOVED, CHANGED):
            n = len(diff.of_status(rule.kind)) + len(diff.of_status(rule.kind, headers=True))
            if n:
                out.append(f"{n} file(s) {rule.kind}")
        elif rule.kind == "imports" and diff.imports:
            out.append(f"{len(diff.imports)} import(s) added or removed")
        elif rule.kind == "companions" and diff.companions:
            out.append(f"{len(diff.companions)} run-time companion(s) changed")
        elif rule.kind == "size":
            delta = diff.size_delta
            if rule.percent is not None and diff.a.total and 100.0 * delta / diff.a.total > rule.percent:
                out.append(f"size grew {100.0 * delta / diff.a.total:.1f} % (more than {rule.percent:g} %)")
            elif rule.bytes is not None and delta > rule.bytes:
                out.append(f"size grew {format_size(delta)} (more than {format_size(rule.bytes)})")
    return tuple(out)


# ---------------------------------------------------------------- output


def _side(s: Snapshot) -> dict[str, Any]:
    return {
        "label": s.label, "kind": s.kind, "openvino_version": s.openvino_version, "features": list(s.features),
        "files": len(s.files), "bytes": s.total, "headers": len(s.headers),
        "companions": [{"name": n, "state": st} for n, st in s.companions],
        "missing": list(s.missing), "packed": s.packed,
    }


def _file_dict(c: FileChange) -> dict[str, Any]:
    def val(f: SnapshotFile | None, attr: str) -> Any:
        return getattr(f, attr) if f is not None else None

    return {
        "path": c.path, "role": c.role, "status": c.status, "what": list(c.what),
        "size_a": val(c.a, "size"), "size_b": val(c.b, "size"), "size_delta": c.size_delta,
        "version_a": val(c.a, "file_version"), "version_b": val(c.b, "file_version"),
        "signature_a": val(c.a, "signature"), "signature_b": val(c.b, "signature"),
        "cfg_a": val(c.a, "cfg"), "cfg_b": val(c.b, "cfg"),
        "imports_added": [i.name for i in c.imports if i.change == ADDED],
        "imports_removed": [i.name for i in c.imports if i.change == REMOVED],
    }


def diff_to_dict(diff: BundleDiff, rules: tuple[FailRule, ...] = ()) -> dict[str, Any]:
    a, b = diff.a, diff.b
    return {
        "schema": "npuslim.diff",
        "schema_version": DIFF_SCHEMA_VERSION,
        "tool_version": __version__,
        "a": _side(a),
        "b": _side(b),
        "files": [_file_dict(c) for c in diff.files],
        "unchanged": diff.unchanged,
        "imports_compared": diff.imports_compared,
        "imports": [{"file": i.file, "name": i.name, "kind": i.kind, "change": i.change} for i in diff.imports],
        "companions": [{"name": c.name, "status": c.status, "a": c.a, "b": c.b} for c in diff.companions],
        "missing": {"a": list(a.missing), "b": list(b.missing)},
        "headers": {
            "a": len(a.headers), "b": len(b.headers),
            "added": [c.path for c in diff.of_status(ADDED, headers=True)],
            "removed": [c.path for c in diff.of_status(REMOVED, headers=True)],
            "changed": len(diff.of_status(CHANGED, headers=True)),
        },
        "total": {
            "a": a.total, "b": b.total, "delta": diff.size_delta,
            "percent": round(100.0 * diff.size_delta / a.total, 2) if a.total else None,
        },
        "fail_on": [r.text for r in rules],
        "failures": list(fail_reasons(diff, rules)),
    }


def _signed(n: int) -> str:
    return ("+" if n > 0 else "-" if n < 0 else "±") + format_size(abs(n))


def _version_text(c: FileChange) -> str:
    va, vb = (c.a.file_version if c.a else None), (c.b.file_version if c.b else None)
    if va == vb:
        return va or ""
    return f"{va or '-'} → {vb or '-'}"


def _flag(a: object, b: object) -> str:
    return "" if a == b else f"{a if a is not None else '-'} → {b if b is not None else '-'}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _listing(paths: list[str], limit: int = 15) -> str:
    shown = ", ".join(f"`{p}`" for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def diff_to_markdown(diff: BundleDiff, rules: tuple[FailRule, ...] = ()) -> str:
    """A Markdown report: summary table, then files, imports, companions, headers, and the verdict."""
    lines = _md_summary(diff) + _md_files(diff)
    if not diff.imports_compared:
        lines += ["Imports were not compared: a side is a lock file without its DLLs.", ""]
    if diff.companions:
        lines.append("**Run-time companions**: " + "; ".join(
            f"`{c.name}` {c.status}" + (f" ({c.a or '-'} → {c.b or '-'})" if c.status == CHANGED else
                                         f" ({c.b or c.a})")
            for c in diff.companions))
        lines.append("")
    lines += _md_missing(diff) + _md_headers(diff)
    if rules:
        reasons = fail_reasons(diff, rules)
        rule_text = ",".join(r.text for r in rules)
        lines.append(f"**Fails** (`--fail-on {rule_text}`): {'; '.join(reasons)}." if reasons
                     else f"Passes `--fail-on {rule_text}`.")
        lines.append("")
    return "\n".join(lines)


def _md_summary(diff: BundleDiff) -> list[str]:
    a, b = diff.a, diff.b
    pct = f" ({100.0 * diff.size_delta / a.total:+.1f} %)" if a.total else ""
    return [
        f"## npuslim diff: {_md(a.label)} → {_md(b.label)}",
        "",
        "| | A | B | change |",
        "|---|---|---|---|",
        f"| OpenVINO | {a.openvino_version or '-'} | {b.openvino_version or '-'} | |",
        f"| files | {len(a.files)} | {len(b.files)} | {len(b.files) - len(a.files):+d} |",
        f"| size | {format_size(a.total)} | {format_size(b.total)} | {_signed(diff.size_delta)}{pct} |",
        f"| headers | {len(a.headers)} | {len(b.headers)} | {len(b.headers) - len(a.headers):+d} |",
        "",
    ]


def _md_files(diff: BundleDiff) -> list[str]:
    if not diff.files:
        return ["No file added, removed or changed." if not diff.headers else "No file other than headers changed.",
                ""]
    lines = ["| file | change | size | Δ size | version | signature | CFG | imports |",
             "|---|---|---|---|---|---|---|---|"]
    for c in diff.files:
        size = (format_size(c.b.size) if c.b else format_size(c.a.size) if c.a else "")
        imports = ", ".join(("+" if i.change == ADDED else "\u2212") + i.name  # a minus sign, as typeset
                            + (" (delay)" if i.kind == Via.DELAY_IMPORT else "") for i in c.imports)
        sig = _flag(c.a.signature, c.b.signature) if c.a and c.b else ""
        cfg = _flag(c.a.cfg, c.b.cfg) if c.a and c.b else ""
        lines.append(f"| `{c.path}` | {c.status} | {size} | {_signed(c.size_delta)} | {_version_text(c)} | "
                     f"{sig} | {cfg} | {_md(imports)} |")
    lines.append("")
    return lines


def _md_missing(diff: BundleDiff) -> list[str]:
    missing_a, missing_b = set(diff.a.missing), set(diff.b.missing)
    if missing_a == missing_b:
        return []
    lines = []
    if missing_a - missing_b:
        lines.append(f"**No longer missing**: {_listing(sorted(missing_a - missing_b))}")
    if missing_b - missing_a:
        lines.append(f"**Newly missing**: {_listing(sorted(missing_b - missing_a))}")
    lines.append("")
    return lines


def _md_headers(diff: BundleDiff) -> list[str]:
    added_h, removed_h = diff.of_status(ADDED, headers=True), diff.of_status(REMOVED, headers=True)
    changed_h = diff.of_status(CHANGED, headers=True)
    if not (added_h or removed_h or changed_h):
        return []
    lines = [(f"**Headers**: {len(diff.a.headers)} → {len(diff.b.headers)}; {len(added_h)} added, "
             f"{len(removed_h)} removed, {len(changed_h)} changed.")]
    if added_h:
        lines.append(f"Added: {_listing([c.path for c in added_h])}.")
    if removed_h:
        lines.append(f"Removed: {_listing([c.path for c in removed_h])}.")
    lines.append("")
    return lines
