"""The knowledge base in ``manifests/``: manifests and Windows facts.

A manifest (YAML) says what no import table shows: the root DLLs, the
companions loaded at run time per OpenVINO version range, optional features,
header roots, import libraries, licence files and what is never bundled. This
module loads and validates them into frozen dataclasses; a malformed file is a
``ManifestError`` naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from npuslim.errors import ManifestError
from npuslim.knowledge.versions import VersionRange
from npuslim.paths import read_regular, relative_path

# libyaml's loader when PyYAML was built with it: 10x faster on the manifests.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SCHEMA_VERSION = 1
DEFAULT_MANIFEST = "npu"
_NEVER_CLASSES = ("driver", "system", "msvc-runtime")


def manifests_dir() -> Path:
    """The folder holding the shipped manifests (inside an installed wheel, or the repo)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "manifests", here.parent.parent / "manifests"):
        if (candidate / f"{DEFAULT_MANIFEST}.yaml").is_file():
            return candidate
    raise ManifestError(f"npuslim's manifests folder is missing (looked in {here})")


# ---------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Feature:
    name: str
    default: bool
    description: str


@dataclass(frozen=True)
class Companion:
    """A DLL loaded at run time (LoadLibrary), invisible to import tables."""

    name: str
    loaded_by: str
    reason: str
    feature: str | None = None
    versions: VersionRange = VersionRange("")
    if_present: bool = False


@dataclass(frozen=True)
class NeverBundle:
    name: str
    dep_class: str
    reason: str
    provided_by: str | None = None


@dataclass(frozen=True)
class HeaderRoot:
    path: str
    feature: str | None = None


@dataclass(frozen=True)
class ImportLibrary:
    name: str
    feature: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A validated manifest."""

    name: str
    description: str
    source: Path
    roots: tuple[str, ...]
    features: tuple[Feature, ...]
    companions: tuple[Companion, ...]
    never_bundle: tuple[NeverBundle, ...]
    headers: tuple[HeaderRoot, ...]
    import_libraries: tuple[ImportLibrary, ...]
    licenses: tuple[str, ...]
    budget: str | None = None  # a size such as "40MB": extract and pack fail above it (npuslim.check.budget)

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)

    def default_features(self) -> frozenset[str]:
        return frozenset(f.name for f in self.features if f.default)

    def never(self, dll: str) -> NeverBundle | None:
        low = dll.lower()
        return next((n for n in self.never_bundle if n.name.lower() == low), None)


@dataclass(frozen=True)
class WindowsFacts:
    """What Windows provides: API set prefixes, MSVC runtime names, system DLLs."""

    api_set_prefixes: tuple[str, ...]
    msvc_runtime: frozenset[str]
    system: frozenset[str]


# ---------------------------------------------------------------- validation


class _Reader:
    """Typed access to a YAML mapping with errors that name file and field."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, where: str, msg: str) -> ManifestError:
        return ManifestError(f"{self.source}: {where}: {msg}")

    def mapping(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, "expected a mapping")
        return value

    def seq(self, value: Any, where: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, "expected a list")
        return value

    def text(self, d: dict, key: str, where: str, *, required: bool = True) -> str | None:
        value = d.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}.{key}", "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "expected a non-empty string")
        return value.strip()

    def check_keys(self, d: dict, allowed: set[str], where: str) -> None:
        extra = set(d) - allowed
        if extra:
            raise self.fail(where, f"unknown field(s): {', '.join(sorted(map(str, extra)))}")


# A manifest is a few KB; these bounds refuse hostile files (alias bombs, huge or deep
# documents) before anything walks or formats them.
MAX_MANIFEST_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64


def short(value: Any) -> str:
    """A bounded description of a YAML value for an error message: never the whole value."""
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'} of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_size(path: Path, data: Any) -> None:
    """Refuse a document whose expanded size (aliases counted at every use) or depth is too large.

    Linear in the number of distinct nodes: the expanded size of a shared node is computed once.
    """
    sizes: dict[int, int] = {}
    depth_of: dict[int, int] = {}
    # iterative post-order walk
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        if done:
            children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
            size, depth = 1, 1
            for child in children:
                if isinstance(child, (dict, list)):
                    size += sizes[id(child)]
                    depth = max(depth, depth_of[id(child)] + 1)
                else:
                    size += 1
                if size > MAX_NODES:
                    raise ManifestError(f"{path}: expands to more than {MAX_NODES} values (YAML aliases?): refused")
            if depth > MAX_DEPTH:
                raise ManifestError(f"{path}: nested deeper than {MAX_DEPTH} levels: refused")
            sizes[key], depth_of[key] = size, depth
            continue
        if key in sizes or key in depth_of:
            continue
        depth_of[key] = -1  # on the stack: a cycle (recursive alias) is refused below
        stack.append((node, True))
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth_of.get(id(child)) == -1 and id(child) not in sizes:
                    raise ManifestError(f"{path}: a YAML alias refers to itself: refused")
                stack.append((child, False))
        if len(stack) > 4 * MAX_NODES:
            raise ManifestError(f"{path}: expands to more than {MAX_NODES} values: refused")


def _load_yaml(path: Path) -> Any:
    data = read_regular(path, limit=MAX_MANIFEST_BYTES, what="manifest", error=ManifestError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        loaded = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ManifestError(f"{path}: not valid YAML{where}: {problem}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ManifestError(f"{path}: too deeply nested or too large: refused") from exc
    _check_size(path, loaded)
    return loaded


def _schema_version(r: _Reader, data: dict) -> None:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise r.fail("schema_version", f"expected {SCHEMA_VERSION}, found {short(version)}")


def _file_name(r: _Reader, name: str) -> None:
    """DLL and library names of a manifest are bare file names: never a path."""
    if any(c in name for c in "/\\:\0") or name.strip() in (".", ".."):
        raise r.fail("names", f"{short(name)} is not a bare file name")


def load_manifest(path: Path | str | None = None) -> Manifest:
    """Load and validate a manifest; ``None`` loads the default (NPU) one.

    A bare name such as ``"npu"`` is looked up among the shipped manifests.
    """
    if path is None:
        path = manifests_dir() / f"{DEFAULT_MANIFEST}.yaml"
    else:
        path = Path(path)
        if not path.exists() and path.suffix == "" and "/" not in str(path):
            shipped = manifests_dir() / f"{path}.yaml"
            if shipped.is_file():
                path = shipped
    if not path.exists():
        raise ManifestError(f"{path}: manifest not found")
    r = _Reader(path)
    data = r.mapping(_load_yaml(path), "top level")
    r.check_keys(
        data,
        {
            "schema_version", "name", "description", "roots", "features", "companions",
            "never_bundle", "headers", "import_libraries", "licenses", "budget",
        },
        "top level",
    )
    _schema_version(r, data)
    name = r.text(data, "name", "top level")
    description = r.text(data, "description", "top level", required=False) or ""

    roots = tuple(r.seq(data.get("roots"), "roots"))
    if not roots or not all(isinstance(x, str) and x.strip() for x in roots):
        raise r.fail("roots", "expected a non-empty list of DLL names")

    features: list[Feature] = []
    for fname, spec in r.mapping(data.get("features") or {}, "features").items():
        spec = r.mapping(spec, f"features.{fname}")
        r.check_keys(spec, {"default", "description"}, f"features.{fname}")
        if not isinstance(spec.get("default", False), bool):
            raise r.fail(f"features.{fname}.default", "expected true or false")
        features.append(
            Feature(str(fname), bool(spec.get("default", False)), str(spec.get("description", "")))
        )
    known = {f.name for f in features}

    def feature_of(d: dict, where: str) -> str | None:
        feat = r.text(d, "feature", where, required=False)
        if feat is not None and feat not in known:
            raise r.fail(f"{where}.feature", f"unknown feature {short(feat)} (declare it under features)")
        return feat

    companions = []
    for i, item in enumerate(r.seq(data.get("companions"), "companions")):
        where = f"companions[{i}]"
        item = r.mapping(item, where)
        r.check_keys(item, {"name", "loaded_by", "reason", "feature", "versions", "if_present"}, where)
        if not isinstance(item.get("if_present", False), bool):
            raise r.fail(f"{where}.if_present", "expected true or false")
        try:
            versions = VersionRange(str(item.get("versions") or ""))
        except ValueError as exc:
            raise r.fail(f"{where}.versions", str(exc)) from exc
        companions.append(
            Companion(
                name=r.text(item, "name", where) or "",
                loaded_by=r.text(item, "loaded_by", where) or "",
                reason=r.text(item, "reason", where) or "",
                feature=feature_of(item, where),
                versions=versions,
                if_present=bool(item.get("if_present", False)),
            )
        )

    never = []
    for i, item in enumerate(r.seq(data.get("never_bundle"), "never_bundle")):
        where = f"never_bundle[{i}]"
        item = r.mapping(item, where)
        r.check_keys(item, {"name", "class", "reason", "provided_by"}, where)
        cls = r.text(item, "class", where) or ""
        if cls not in _NEVER_CLASSES:
            raise r.fail(f"{where}.class", f"expected one of {', '.join(_NEVER_CLASSES)}")
        never.append(NeverBundle(r.text(item, "name", where) or "", cls, r.text(item, "reason", where) or "",
                                 r.text(item, "provided_by", where, required=False)))

    headers = []
    for i, item in enumerate(r.seq(data.get("headers"), "headers")):
        where = f"headers[{i}]"
        item = r.mapping(item, where)
        r.check_keys(item, {"path", "feature"}, where)
        header = relative_path(r.text(item, "path", where), what=f"{path}: {where}.path", error=ManifestError)
        headers.append(HeaderRoot(header, feature_of(item, where)))

    libs = []
    for i, item in enumerate(r.seq(data.get("import_libraries"), "import_libraries")):
        where = f"import_libraries[{i}]"
        item = r.mapping(item, where)
        r.check_keys(item, {"name", "feature"}, where)
        libs.append(ImportLibrary(r.text(item, "name", where) or "", feature_of(item, where)))

    licenses = r.seq(data.get("licenses"), "licenses")
    if not all(isinstance(x, str) and x.strip() for x in licenses):
        raise r.fail("licenses", "expected a list of file patterns")
    licenses = [relative_path(x.strip(), what=f"{path}: licenses", error=ManifestError) for x in licenses]
    dll_names = [*roots, *(c.name for c in companions), *(c.loaded_by for c in companions),
                 *(n.name for n in never), *(lib.name for lib in libs)]
    for dll_name in dll_names:
        _file_name(r, dll_name)

    budget = _budget(r, data.get("budget"))

    return Manifest(
        name=name or "",
        description=description,
        source=path,
        roots=tuple(x.strip() for x in roots),
        features=tuple(features),
        companions=tuple(companions),
        never_bundle=tuple(never),
        headers=tuple(headers),
        import_libraries=tuple(libs),
        licenses=tuple(licenses),
        budget=budget,
    )


def _budget(r: _Reader, value: Any) -> str | None:
    """``budget: 40MB`` (or a byte count): checked here, applied by extract and pack."""
    if value is None:
        return None
    from npuslim.errors import InputError
    from npuslim.units import parse_budget

    text = value if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is None:
        raise r.fail("budget", "expected a size such as 40MB, 48MiB or 1.75GB")
    try:
        parse_budget(text, where="budget")
    except InputError as exc:
        raise r.fail("budget", str(exc).removeprefix("budget: ")) from None
    return str(text).strip()


def load_windows_facts(path: Path | None = None) -> WindowsFacts:
    """Load ``manifests/windows.yaml``: what Windows itself provides."""
    path = path or manifests_dir() / "windows.yaml"
    r = _Reader(path)
    data = r.mapping(_load_yaml(path), "top level")
    r.check_keys(data, {"schema_version", "api_set_prefixes", "msvc_runtime", "system"}, "top level")
    _schema_version(r, data)

    def names(key: str) -> list[str]:
        items = r.seq(data.get(key), key)
        if not items or not all(isinstance(x, str) and x.strip() for x in items):
            raise r.fail(key, "expected a non-empty list of names")
        return [x.strip().lower() for x in items]

    return WindowsFacts(
        api_set_prefixes=tuple(names("api_set_prefixes")),
        msvc_runtime=frozenset(names("msvc_runtime")),
        system=frozenset(names("system")),
    )
