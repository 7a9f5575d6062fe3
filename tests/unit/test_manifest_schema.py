"""Manifests checked against npuslim/schemas/manifest.schema.json, then by the named checks a schema
cannot state; the one-line errors of npuslim.schema_check; validation once per content."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import npuslim
import npuslim.schema_check as schema_check
from npuslim.errors import ManifestError
from npuslim.knowledge.manifest import load_manifest, load_windows_facts, manifests_dir
from npuslim.schema_check import first_error, load_schema

SCHEMAS = sorted(p.name.removesuffix(".schema.json") for p in (Path(npuslim.__file__).parent / "schemas").glob("*.json"))
BASE = "schema_version: 1\nname: x\nroots: [a.dll]\n"
COMPANION = "companions:\n  - {name: b.dll, loaded_by: a.dll, reason: r"

# body -> the expected message after "<file>: " (exactly one line)
BAD_MANIFESTS = [
    ("- 1\n- 2\n", "top level: expected a mapping, found a list"),
    ("", "top level: expected a mapping, found nothing"),
    ("schema_version: 2\nname: x\nroots: [a.dll]\n", "schema_version: expected 1, found 2"),
    ("schema_version: '" + "9" * 500_000 + "'\n",
     "schema_version: expected 1, found '" + "9" * 56 + "..."),
    ("name: x\nroots: [a.dll]\n", "schema_version: missing"),
    ("schema_version: 1\nroots: [a.dll]\n", "name: missing"),
    ("schema_version: 1\nname: '  '\nroots: [a.dll]\n", "name: expected a non-empty string"),
    ("schema_version: 1\nname: x\n", "roots: missing"),
    ("schema_version: 1\nname: x\nroots: []\n", "roots: expected a non-empty list"),
    ("schema_version: 1\nname: x\nroots: a.dll\n", "roots: expected a list, found a string"),
    ("schema_version: 1\nname: x\nroots: [a.dll, 3]\n", "roots[1]: expected a string, found an integer"),
    ("schema_version: 1\nname: x\nroots: [a/b.dll]\n", "roots[0]: 'a/b.dll' is not a bare file name"),
    (BASE + "bogus: 1\nzz: 2\n", "top level: unknown field(s): bogus, zz"),
    (BASE + "k" * 300 + ": 1\n", "top level: unknown field(s): " + "k" * 37 + "..."),
    (BASE + "description: 2024-01-01\n", "description: expected a string or nothing, found a date"),
    (BASE + "features: [a]\n", "features: expected a mapping or nothing, found a list"),
    (BASE + "features:\n  ir:\n", "features.ir: expected a mapping, found nothing"),
    (BASE + "features:\n  ir: {default: maybe}\n", "features.ir.default: expected true or false, found a string"),
    (BASE + "features:\n  ir: {default: true, extra: 1}\n", "features.ir: unknown field(s): extra"),
    (BASE + "companions: {name: b.dll}\n", "companions: expected a list or nothing, found a mapping"),
    (BASE + COMPANION.replace("loaded_by: a.dll, ", "") + "}\n", "companions[0].loaded_by: missing"),
    (BASE + COMPANION + "}\n" + COMPANION[len("companions:\n"):] + "}\n"
     + COMPANION[len("companions:\n"):].replace("a.dll", "[x]") + "}\n",
     "companions[2].loaded_by: expected a string, found a list"),
    (BASE + COMPANION + ", versions: '>=x'}\n",
     "companions[0].versions: bad version range '>=x' (expected clauses such as >=2024.0,<2026.1)"),
    (BASE + COMPANION + ", versions: 2026}\n",
     "companions[0].versions: expected a string or nothing, found an integer"),
    (BASE + COMPANION + ", if_present: yes please}\n",
     "companions[0].if_present: expected true or false, found a string"),
    (BASE + COMPANION + ", feature: nope}\n",
     "companions[0].feature: unknown feature 'nope' (declare it under features)"),
    (BASE + COMPANION.replace("b.dll", "../b.dll") + "}\n", "companions[0].name: '../b.dll' is not a bare file name"),
    (BASE + COMPANION.replace("a.dll", "C:a.dll") + "}\n",
     "companions[0].loaded_by: 'C:a.dll' is not a bare file name"),
    (BASE + "never_bundle:\n  - {name: z.dll, class: maybe, reason: r}\n",
     "never_bundle[0].class: expected one of driver, system, msvc-runtime"),
    (BASE + "never_bundle:\n  - {name: z.dll, class: driver}\n", "never_bundle[0].reason: missing"),
    (BASE + "headers:\n  - {path: ../x}\n", "headers[0].path: '../x' leaves its folder (..)"),
    (BASE + "headers:\n  - {path: x, feature: gpu}\n",
     "headers[0].feature: unknown feature 'gpu' (declare it under features)"),
    (BASE + "headers:\n  - path: x\n    extra: 1\n", "headers[0]: unknown field(s): extra"),
    (BASE + "import_libraries: [{name: /etc/passwd}]\n",
     "import_libraries[0].name: '/etc/passwd' is not a bare file name"),
    (BASE + "licenses: 'LICENSE'\n", "licenses: expected a list or nothing, found a string"),
    (BASE + "licenses: ['../*']\n", "licenses[0]: '../*' leaves its folder (..)"),
    (BASE + "licenses: ['', x]\n", "licenses[0]: expected a non-empty string"),
    (BASE + "budget: lots\n", "budget: not a size: 'lots' (try 50MB, 48MiB or 1.75GB)"),
    (BASE + "budget: 0\n", "budget: a budget must be more than 0 bytes, not 0"),
    (BASE + "budget: true\n", "budget: expected a string, an integer or nothing, found a boolean"),
]


@pytest.mark.parametrize(("body", "message"), BAD_MANIFESTS, ids=[m for _b, m in BAD_MANIFESTS])
def test_a_bad_manifest_is_one_line_naming_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(body)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    text = str(err.value)
    assert "\n" not in text and len(text) < 400
    assert text == f"{path}: {message}"
    assert err.value.exit_code == 4


def test_the_yaml_bounds_come_before_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ManifestError, match="a YAML alias refers to itself: refused"):
        load_manifest(path)
    path.write_text("schema_version: " + "9" * 5000 + "\n")
    with pytest.raises(ManifestError, match="not valid YAML: Exceeds the limit"):
        load_manifest(path)


def test_a_good_manifest_of_every_field(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BASE + "description: d\nfeatures:\n  f: {default: true, description: ff}\n  g:\n    default: false\n"
                    + COMPANION + ", feature: f, versions: '>=2026.0', if_present: true}\n"
                    "never_bundle:\n  - {name: z.dll, class: system, reason: r, provided_by: Windows}\n"
                    "headers:\n  - {path: ./inc/a.h, feature: g}\nimport_libraries:\n  - {name: a.lib}\n"
                    "licenses: [' LICENSE* ']\nbudget: 40MB\n")
    m = load_manifest(path)
    assert m.default_features() == {"f"} and m.feature("g").description == ""  # type: ignore[union-attr]
    assert m.companions[0].feature == "f" and m.companions[0].versions.contains("2026.4.1")
    assert m.companions[0].if_present and m.never("Z.DLL").provided_by == "Windows"  # type: ignore[union-attr]
    assert m.headers[0].path == "inc/a.h" and m.licenses == ("LICENSE*",) and m.budget == "40MB"


def test_every_shipped_manifest_and_schema_is_valid() -> None:
    for name in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(load_schema(name))
    assert {"manifest", "windows-facts", "bundle", "wheel"} <= set(SCHEMAS)
    shipped = sorted(manifests_dir().glob("*.yaml"))
    assert len(shipped) >= 7
    for path in shipped:
        loaded = load_windows_facts(path) if path.name == "windows.yaml" else load_manifest(path)
        assert loaded is not None


def test_windows_facts_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("schema_version: 1\napi_set_prefixes: [api-ms-win-]\nmsvc_runtime: []\nsystem: [KERNEL32.dll]\n")
    with pytest.raises(ManifestError) as err:
        load_windows_facts(path)
    assert str(err.value) == f"{path}: msvc_runtime: expected a non-empty list"
    path.write_text("schema_version: 1\napi_set_prefixes: [x]\nmsvc_runtime: [a]\nsystem: [' KERNEL32.dll ']\n")
    assert load_windows_facts(path).system == {"kernel32.dll"}


# ----------------------------------------------------------------- once per content


def _count_validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = schema_check.first_error

    def counting(document: object, schema: dict, **kw: str) -> str | None:
        calls.append(document)
        return real(document, schema, **kw)

    monkeypatch.setattr(schema_check, "first_error", counting)
    return calls


def test_a_manifest_is_validated_once_per_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    calls = _count_validations(monkeypatch)
    path = tmp_path / "m.yaml"
    path.write_text(BASE)
    first = load_manifest(path)
    assert load_manifest(path) == first and len(calls) == 1
    assert len(list((tmp_path / "cache" / "validated").iterdir())) == 1
    path.write_text(BASE + "bogus: 1\n")  # new content: validated again, and a failure is never remembered
    for _ in range(2):
        with pytest.raises(ManifestError, match="unknown field"):
            load_manifest(path)
    assert len(calls) == 3
    path.write_text(BASE)
    load_manifest(path)
    assert len(calls) == 3


def test_an_unchanged_manifest_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The document a pass kept is read back as JSON: no YAML parse, the same manifest."""
    import npuslim.knowledge.manifest as manifest_mod

    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    path = tmp_path / "m.yaml"
    path.write_text(BASE + COMPANION + "}\n")
    first = load_manifest(path)
    parsed: list[Path] = []
    real = manifest_mod._load_yaml
    monkeypatch.setattr(manifest_mod, "_load_yaml", lambda p, raw: parsed.append(p) or real(p, raw))
    assert load_manifest(path) == first and parsed == []
    path.write_text(BASE + COMPANION + ", reason: other}\n")  # other bytes: parsed again
    assert load_manifest(path) != first and parsed == [path]


@pytest.mark.parametrize("damage", ["", "{", "\xff\xfe", "[1, 2"])
def test_a_damaged_kept_document_is_parsed_again_and_kept_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                damage: str) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    path = tmp_path / "m.yaml"
    path.write_text(BASE)
    first = load_manifest(path)
    (marker,) = (tmp_path / "cache" / "validated").iterdir()
    kept = marker.read_text()
    marker.write_bytes(damage.encode("latin-1"))
    assert load_manifest(path) == first  # the damaged marker is forgotten: parsed and validated again
    assert load_manifest(path) == first and marker.read_text() == kept


def test_a_document_json_cannot_give_back_is_not_kept() -> None:
    import datetime as dt

    assert schema_check._as_json({1: "a"}) == ""            # a YAML mapping with an integer key
    assert schema_check._as_json({"d": dt.date(2026, 1, 1)}) == ""
    assert schema_check._as_json({"x": float("nan")}) == ""
    assert json.loads(schema_check._as_json({"a": [1, "b", None, True]})) == {"a": [1, "b", None, True]}


def test_a_remembered_manifest_still_gets_the_named_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "m.yaml"
    path.write_text(BASE + COMPANION + ", feature: nope}\n")  # valid for the schema, not for the named checks
    for _ in range(2):
        with pytest.raises(ManifestError, match="unknown feature 'nope'"):
            load_manifest(path)


def test_the_cache_folder_is_never_made_for_a_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    calls = _count_validations(monkeypatch)
    path = tmp_path / "m.yaml"
    path.write_text(BASE)
    load_manifest(path)
    load_manifest(path)
    assert len(calls) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_a_cache_that_cannot_be_written_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "file" / "cache"))
    calls = _count_validations(monkeypatch)
    path = tmp_path / "m.yaml"
    path.write_text(BASE)
    load_manifest(path)
    load_manifest(path)
    assert len(calls) == 2


# ----------------------------------------------------------------- the JSON (lock file) dialect


def test_lock_file_errors_are_one_bounded_line() -> None:
    schema = load_schema("bundle")
    assert first_error([], schema) == "top level: expected an object, found an array"
    assert first_error({}, schema) == "schema: missing"
    version = {"properties": {"schema_version": {"const": 1}}}
    assert first_error({"schema_version": 10**4000}, version) == \
        "schema_version: expected 1, found a number of more than 60 digits"
    assert first_error({"schema_version": True}, version) == "schema_version: expected 1, found True"
    assert first_error({"schema_version": "x" * 10**6}, version) == \
        "schema_version: expected 1, found '" + "x" * 56 + "..."


def test_nesting_deeper_than_python_recurses_is_one_line() -> None:
    deep = json.loads("[" * 900 + "]" * 900)
    assert first_error(deep, {"type": "array", "items": {"$ref": "#"}}) == \
        "top level: nested too deeply to be checked"


def test_the_first_error_path_and_message_for_json() -> None:
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"files": {"type": "array", "items": {"$ref": "#/$defs/file"}}},
              "$defs": {"file": {"type": "object", "required": ["path"], "properties": {
                  "path": {"type": "string", "minLength": 1}, "size": {"type": "integer", "minimum": 0},
                  "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}}}
    cases = [
        ({"files": [{"path": "a"}, {"path": 7}]}, "files[1].path: expected a string, found an integer"),
        ({"files": [{"path": "a"}, {}]}, "files[1].path: missing"),
        ({"files": [{"path": ""}]}, "files[0].path: expected a non-empty string"),
        ({"files": [{"path": "a", "size": -1}]}, "files[0].size: less than 0"),
        ({"files": [{"path": "a", "size": 1.5}]}, "files[0].size: expected an integer, found a number"),
        ({"files": [{"path": "a", "sha256": "z" * 64}]}, "files[0].sha256: does not match ^[0-9a-f]{64}$"),
        ({"files": [], "x" * 100: 1}, "top level: unknown field(s): " + "x" * 37 + "..."),
        ({"files": [{"path": "a"}]}, None),
    ]
    for document, expected in cases:
        assert first_error(document, schema) == expected


def test_the_markers_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(schema_check, "MAX_MARKERS", 4)
    document = {"schema_version": 1, "api_set_prefixes": ["a"], "msvc_runtime": ["b"], "system": ["c"]}
    for i in range(9):
        assert schema_check.validated_once(b"%d" % i, document, "windows-facts") is None
        assert len(list((tmp_path / "validated").iterdir())) <= 4
    assert (tmp_path / "validated" / schema_check._marker_name("windows-facts", b"8")).is_file()
