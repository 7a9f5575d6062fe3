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
from typing import Any, cast

from npuslim.errors import InputError, ManifestError
from npuslim.knowledge.versions import VersionRange
from npuslim.paths import read_regular, relative_path
from npuslim.schema_check import remembered_document, short_value, validated_once
from npuslim.units import parse_budget

DEFAULT_MANIFEST = "npu"


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
    versions: VersionRange = VersionRange("")  # noqa: RUF009 - a frozen value: every release
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


# ---------------------------------------------------------------- reading


# A manifest is a few KB; these bounds refuse hostile files (alias bombs, huge or deep
# documents) before anything walks or formats them.
MAX_MANIFEST_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64


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


def _load_yaml(path: Path, data: bytes) -> Any:
    """The YAML document ``data`` (read from ``path``) holds, within the bounds above."""
    import yaml

    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML has it: 10x faster
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        loaded = yaml.load(text, Loader=safe_loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ManifestError(f"{path}: not valid YAML{where}: {problem}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ManifestError(f"{path}: too deeply nested or too large: refused") from exc
    except ValueError as exc:  # an integer past int()'s digit limit
        raise ManifestError(f"{path}: not valid YAML: {str(exc)[:80]}") from exc
    _check_size(path, loaded)
    return loaded


def _read_checked(path: Path, schema: str) -> dict[str, Any]:
    """The YAML document of ``path``, valid against ``npuslim/schemas/SCHEMA.schema.json``.

    Parsed and checked once per content: ``validated_once`` keeps in npuslim's cache,
    under the sha256 of bytes that passed, the document they hold (as JSON), so a run on
    an unchanged manifest (every ``deps`` run on the shipped one) imports neither yaml nor
    jsonschema, and neither parses nor validates again.
    """
    raw = read_regular(path, limit=MAX_MANIFEST_BYTES, what="manifest", error=ManifestError)
    document = remembered_document(raw, schema)
    if document is None:
        document = _load_yaml(path, raw)
        problem = validated_once(raw, document, schema, dialect="yaml", keep_document=True)
        if problem is not None:
            raise ManifestError(f"{path}: {problem}")
    return cast(dict[str, Any], document)  # a mapping: the schema says so


def _fail(path: Path, where: str, message: str) -> ManifestError:
    return ManifestError(f"{path}: {where}: {message}")


def _items(data: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    """The entries of the list ``key`` (absent or null: none) with their field paths."""
    return [(f"{key}[{i}]", item) for i, item in enumerate(data.get(key) or ())]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


# ---------------------------------------------------------------- checks a schema cannot state


def _check_feature_references(path: Path, data: dict[str, Any]) -> None:
    """Every ``feature:`` of a companion, header root or import library is declared under ``features``."""
    known = {str(name) for name in data.get("features") or {}}
    for key in ("companions", "headers", "import_libraries"):
        for where, item in _items(data, key):
            feature = _optional(item.get("feature"))
            if feature is not None and feature not in known:
                raise _fail(path, f"{where}.feature",
                            f"unknown feature {short_value(feature)} (declare it under features)")


def _check_file_names(path: Path, data: dict[str, Any]) -> None:
    """DLL and library names are bare file names: never a path."""
    named = [(f"roots[{i}]", root) for i, root in enumerate(data["roots"])]
    for key, fields in (("companions", ("name", "loaded_by")), ("never_bundle", ("name",)),
                        ("import_libraries", ("name",))):
        named += [(f"{where}.{field}", item[field]) for where, item in _items(data, key) for field in fields]
    for where, name in named:
        if any(c in name for c in "/\\:\0") or name.strip() in (".", ".."):
            raise _fail(path, where, f"{short_value(name)} is not a bare file name")


def _version_range(path: Path, where: str, value: Any) -> VersionRange:
    try:
        return VersionRange(value or "")
    except ValueError as exc:
        raise _fail(path, f"{where}.versions", str(exc)) from None


def _budget(path: Path, value: Any) -> str | None:
    """``budget: 40MB`` (or a byte count): checked here, applied by extract and pack."""
    if value is None:
        return None
    try:
        parse_budget(value, where="budget")
    except InputError as exc:
        raise _fail(path, "budget", str(exc).removeprefix("budget: ")) from None
    return str(value).strip()


# ---------------------------------------------------------------- building


def _features(data: dict[str, Any]) -> tuple[Feature, ...]:
    return tuple(Feature(str(name), spec.get("default", False), spec.get("description") or "")
                 for name, spec in (data.get("features") or {}).items())


def _companions(path: Path, data: dict[str, Any]) -> tuple[Companion, ...]:
    return tuple(
        Companion(name=_text(item["name"]), loaded_by=_text(item["loaded_by"]), reason=_text(item["reason"]),
                  feature=_optional(item.get("feature")), versions=_version_range(path, where, item.get("versions")),
                  if_present=bool(item.get("if_present", False)))
        for where, item in _items(data, "companions"))


def _never_bundle(data: dict[str, Any]) -> tuple[NeverBundle, ...]:
    return tuple(NeverBundle(_text(item["name"]), item["class"], _text(item["reason"]),
                             _optional(item.get("provided_by")))
                 for _where, item in _items(data, "never_bundle"))


def _headers(path: Path, data: dict[str, Any]) -> tuple[HeaderRoot, ...]:
    return tuple(HeaderRoot(relative_path(_text(item["path"]), what=f"{path}: {where}.path", error=ManifestError),
                            _optional(item.get("feature")))
                 for where, item in _items(data, "headers"))


def _licenses(path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    return tuple(relative_path(_text(pattern), what=f"{path}: licenses[{i}]", error=ManifestError)
                 for i, pattern in enumerate(data.get("licenses") or ()))


def _manifest_path(path: Path | str | None) -> Path:
    """The file ``path`` names: ``None`` is the default manifest, a bare name such as
    ``"npu"`` a shipped one when no such file exists here."""
    if path is None:
        return manifests_dir() / f"{DEFAULT_MANIFEST}.yaml"
    path = Path(path)
    if not path.exists() and path.suffix == "" and "/" not in str(path):
        shipped = manifests_dir() / f"{path}.yaml"
        if shipped.is_file():
            return shipped
    return path


def load_manifest(path: Path | str | None = None) -> Manifest:
    """Load and validate a manifest; ``None`` loads the default (NPU) one.

    A bare name such as ``"npu"`` is looked up among the shipped manifests. The
    steps: the YAML bounds, the JSON schema ``npuslim/schemas/manifest.schema.json``,
    then what a schema cannot state (declared features, bare file names, version
    ranges, relative paths, the budget's size). Any failure is one ``ManifestError``
    naming the file and the field path.
    """
    path = _manifest_path(path)
    if not path.exists():
        raise ManifestError(f"{path}: manifest not found")
    data = _read_checked(path, "manifest")
    _check_feature_references(path, data)
    _check_file_names(path, data)
    return Manifest(
        name=_text(data["name"]),
        description=_text(data.get("description")),
        source=path,
        roots=tuple(_text(root) for root in data["roots"]),
        features=_features(data),
        companions=_companions(path, data),
        never_bundle=_never_bundle(data),
        headers=_headers(path, data),
        import_libraries=tuple(ImportLibrary(_text(item["name"]), _optional(item.get("feature")))
                               for _where, item in _items(data, "import_libraries")),
        licenses=_licenses(path, data),
        budget=_budget(path, data.get("budget")),
    )


# The file of manifests/ that is not a manifest: what Windows provides.
WINDOWS_FACTS_FILE = "windows.yaml"


def load_windows_facts(path: Path | None = None) -> WindowsFacts:
    """Load ``manifests/windows.yaml`` (schema ``npuslim/schemas/windows-facts.schema.json``): what Windows
    itself provides. Names are stripped and lower-cased."""
    path = path or manifests_dir() / WINDOWS_FACTS_FILE
    data = _read_checked(path, "windows-facts")

    def names(key: str) -> list[str]:
        return [name.strip().lower() for name in data[key]]

    return WindowsFacts(
        api_set_prefixes=tuple(names("api_set_prefixes")),
        msvc_runtime=frozenset(names("msvc_runtime")),
        system=frozenset(names("system")),
    )
