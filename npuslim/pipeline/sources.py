"""The sources of a run, located once for every command that reads an install (deps, extract).

The OpenVINO install (and ONNX Runtime with ``--onnxruntime``, whose folder joins the search
path) and the manifest for the install's platform (``npu`` becomes ``npu-linux`` on an ELF
source). Nothing here plans or writes; ``deps`` imports only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.knowledge.manifest import Manifest, load_manifest
from npuslim.plan.features import manifest_for_install
from npuslim.progress import ProgressFn
from npuslim.source.locate import OpenVinoInstall, locate
from npuslim.source.wheel import resolve_requirement

if TYPE_CHECKING:  # ONNX Runtime's planning is imported with --onnxruntime only
    from npuslim.plan.onnxruntime import OnnxRuntimeSource


@dataclass(frozen=True)
class Sources:
    """What ``locate_sources`` found: the install, ONNX Runtime (or ``None``), the manifest for the
    install's platform, the search path (with ONNX Runtime's folder) and lines for the user."""

    install: OpenVinoInstall
    onnxruntime: OnnxRuntimeSource | None
    manifest: Manifest
    search_paths: tuple[Path, ...]
    notes: tuple[str, ...] = ()


def manifest_for(manifest: str | None, onnxruntime: str | None) -> Manifest:
    """``--manifest``, else the ONNX Runtime manifest with ``--onnxruntime``, else the NPU one."""
    if manifest is None and onnxruntime:
        from npuslim.plan.onnxruntime import ORT_MANIFEST

        return load_manifest(ORT_MANIFEST)
    return load_manifest(manifest)


def locate_sources(source: str | None, onnxruntime: str | None, *, platform: str, manifest: Manifest,
                   search_paths: tuple[Path, ...], progress: ProgressFn | None = None) -> Sources:
    """The OpenVINO install (and ONNX Runtime with ``onnxruntime``, whose folder joins the search
    path), and the manifest for its platform (``npu`` becomes ``npu-linux`` on an ELF source).
    A bare ``openvino`` is its newest release, and a note says which; fetching and unpacking
    a wheel report to ``progress``."""
    ort = None
    notes: tuple[str, ...] = ()
    if source is not None:
        source, note = resolve_requirement(source, platform)
        notes = (note,) if note else ()
    if onnxruntime:
        from npuslim.plan.onnxruntime import sources_with_onnxruntime

        install, ort, ort_notes = sources_with_onnxruntime(source, onnxruntime, platform=platform)
        notes += tuple(ort_notes)
        search_paths += (ort.dll_dir,)
    else:
        install = locate(source, platform=platform, progress=progress)
    return Sources(install, ort, manifest_for_install(install, manifest), search_paths, notes)
