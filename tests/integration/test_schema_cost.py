"""What validating a manifest costs a real ``npuslim`` process: jsonschema is imported on a first run
only (without rfc3987-syntax, which alone costs 2-3 s), and not at all once the content was valid and
npuslim's cache exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.crafted import build_pe

REPO = Path(__file__).resolve().parents[2]
# runs the command line as the console script does, then reports which modules it imported
PROBE = """
import importlib.util, json, os, sys
FORMAT_LIBRARIES = ("fqdn", "idna", "rfc3987", "rfc3986_validator", "rfc3339_validator", "webcolors",
                    "jsonpointer", "uri_template", "isoduration")
from npuslim.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(os.environ["MODULES_REPORT"], "w") as fh:
    json.dump({"code": code, "jsonschema": "jsonschema" in sys.modules,
               "rfc3987_syntax": sys.modules.get("rfc3987_syntax", "absent") is not None,
               "format_libraries": sorted(n for n in FORMAT_LIBRARIES if sys.modules.get(n) is not None),
               "importable_after": sorted(n for n in FORMAT_LIBRARIES if n not in sys.modules
                                          and importlib.util.find_spec(n) is not None)}, fh)
"""


def _deps(folder: Path, cache: Path) -> dict[str, object]:
    args = ["deps", str(folder / "a.dll"), "-m", str(folder / "m.yaml"), "-f", "json", "--no-hints"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NPUSLIM_CACHE_DIR": str(cache),
           "MODULES_REPORT": str(folder / "modules.json")}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema"] == "npuslim.deps"
    return json.loads((folder / "modules.json").read_text())


def test_a_manifest_is_validated_on_the_first_run_only(tmp_path: Path) -> None:
    (tmp_path / "a.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    (tmp_path / "m.yaml").write_text("schema_version: 1\nname: t\nroots: [a.dll]\n")
    cache = tmp_path / "cache"
    assert _deps(tmp_path, cache)["jsonschema"] is True
    assert not cache.exists()  # a run that needs no cache makes none, not even to remember a validation
    cache.mkdir()
    first = _deps(tmp_path, cache)
    # jsonschema was imported without the libraries its "format" checks use (no npuslim schema has
    # one), and they stay importable afterwards (those installed here: jsonschema[format] in the
    # test extras)
    assert first.pop("format_libraries") == [] and first.pop("importable_after")
    assert first == {"code": 0, "jsonschema": True, "rfc3987_syntax": False}
    assert len(list((cache / "validated").iterdir())) == 2  # the manifest and windows.yaml
    again = _deps(tmp_path, cache)
    assert (again["code"], again["jsonschema"], again["rfc3987_syntax"]) == (0, False, False)
    (tmp_path / "m.yaml").write_text("schema_version: 1\nname: t\nroots: [a.dll]\ndescription: changed\n")
    assert _deps(tmp_path, cache)["jsonschema"] is True
