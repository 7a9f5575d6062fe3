"""The project's metadata: the licence shipped is the Apache License 2.0 as the ASF publishes it,
and the classifiers agree with ``requires-python`` and ``license``.

Building the wheel and reading its METADATA is in tests/integration/test_packaging.py.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; tomli is not a test dependency
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[2]
# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt (also Debian's /usr/share/common-licenses/Apache-2.0)
ASF_APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_licence_file_is_the_asf_text_byte_for_byte() -> None:
    assert hashlib.sha256((REPO / "LICENSE").read_bytes()).hexdigest() == ASF_APACHE_2_SHA256


def test_the_licence_is_declared_the_pep_639_way() -> None:
    project = _project()
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # PEP 639: the expression only


def test_the_python_classifiers_match_requires_python() -> None:
    project = _project()
    assert project["requires-python"] == ">=3.10"
    minors = sorted(int(c.rsplit(".", 1)[1]) for c in project["classifiers"]
                    if c.startswith("Programming Language :: Python :: 3."))
    assert minors[0] == 10 and minors == list(range(10, minors[-1] + 1))
    assert {"Operating System :: POSIX :: Linux", "Operating System :: Microsoft :: Windows",
            "Environment :: Console", "Topic :: Software Development :: Build Tools"} <= set(project["classifiers"])
    assert "openvino" in project["keywords"] and "npu" in project["keywords"]
