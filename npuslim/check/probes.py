"""The C load probes (``check/probe/``): their sources, built once per content into the cache.

Each probe is one ``.c`` file plus the shared headers (the step protocol, the
OpenVINO C API flow). The cache key is the hash of all of them, so a change to
a header rebuilds every probe that includes it.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from npuslim import atomic
from npuslim.errors import ToolError
from npuslim.paths import cache_dir
from npuslim.tools import run_tool

HEADERS = ("probe_common.h", "ov_c_api.h")


def probe_files(name: str) -> dict[str, bytes]:
    """``NAME.c`` and the shared headers, by file name."""
    folder = resources.files("npuslim.check").joinpath("probe")
    return {f"{name}.c": folder.joinpath(f"{name}.c").read_bytes(),
            **{h: folder.joinpath(h).read_bytes() for h in HEADERS}}


def content_key(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for file_name, data in sorted(files.items()):
        digest.update(file_name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def build_probe(name: str, compiler: str, libraries: Sequence[str], *, suffix: str = "") -> Path:
    """The executable of probe ``name`` built with ``compiler``, from the cache when its sources are unchanged.

    Parallel runs never see each other's half-written files: the sources go to a
    private folder and the executable appears by one rename.
    """
    files = probe_files(name)
    target = cache_dir() / "probe" / content_key(files) / f"{name}{suffix}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as build:
        for file_name, data in files.items():
            (Path(build) / file_name).write_bytes(data)
        with atomic.replacing(target, suffix=suffix) as tmp:
            run = run_tool([compiler, "-O2", "-Wall", "-o", str(tmp), str(Path(build) / f"{name}.c"), *libraries])
            if run.returncode != 0:
                raise ToolError(f"building the load probe {name} failed: {run.output.strip()[-500:]}")
    return target
