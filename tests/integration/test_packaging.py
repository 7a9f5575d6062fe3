"""The wheel as pip builds it (hatchling, fetched by pip's build isolation): it carries the
licence file and the metadata of pyproject.toml (PEP 639 licence fields, classifiers, keywords).

The pure checks of the metadata are in tests/unit/test_packaging.py.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from tests.support.tools import unavailable
from tests.unit.test_packaging import ASF_APACHE_2_SHA256, REPO, _project


def _build_wheel(out: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                           "-q", "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=600)
    wheels = list(out.glob("npuslim-*.whl"))
    if proc.returncode != 0 and "hatchling" in proc.stderr and "No matching distribution" in proc.stderr:
        unavailable(f"pip cannot fetch hatchling to build the wheel: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0 and len(wheels) == 1, proc.stderr[-2000:]
    return wheels[0]


def test_the_wheel_carries_the_licence_and_the_classifiers(tmp_path: Path) -> None:
    import hashlib

    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        dist_info = info.rsplit("/", 1)[0]
        licence = zf.read(f"{dist_info}/licenses/LICENSE")
        metadata = Parser().parsestr(zf.read(info).decode("utf-8"))
    assert hashlib.sha256(licence).hexdigest() == ASF_APACHE_2_SHA256
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert tuple(int(x) for x in metadata["Metadata-Version"].split(".")) >= (2, 4)
    project = _project()
    assert sorted(metadata.get_all("Classifier")) == sorted(project["classifiers"])
    assert set(metadata["Keywords"].split(",")) == set(project["keywords"])
    assert any(n.startswith("npuslim/knowledge/manifests/") for n in names)  # the force-include still works
