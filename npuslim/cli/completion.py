"""Shell completion of option values (typer ``autocompletion`` callbacks).

``--manifest``: the shipped manifest names (a value that is a path is left to
the shell's own file completion). ``--with``: the features of the manifest the
command line selects so far: ``--manifest`` when it came before, the ONNX
Runtime manifest after ``--onnxruntime``, else the default (npu). A completion
never fails: a manifest that cannot be read completes nothing.
"""

from __future__ import annotations

import os

from typer import _click as click  # typer 0.28 carries its own click

from npuslim.errors import NpuslimError


def shipped_manifests() -> list[str]:
    """The names ``--manifest`` takes besides a file: the shipped manifests but the Windows facts."""
    from npuslim.knowledge.manifest import WINDOWS_FACTS_FILE, manifests_dir

    try:
        return sorted(p.stem for p in manifests_dir().glob("*.yaml") if p.name != WINDOWS_FACTS_FILE)
    except NpuslimError:
        return []


def complete_manifest(incomplete: str) -> list[tuple[str, str]]:
    """(name, help) of the shipped manifests starting with ``incomplete``; nothing for a path, so
    the shell completes files (typer's bash script registers ``complete -o default``)."""
    if os.sep in incomplete or "/" in incomplete or incomplete.startswith("."):
        return []
    return [(name, "shipped manifest") for name in shipped_manifests() if name.startswith(incomplete)]


def complete_feature(ctx: click.Context, incomplete: str) -> list[tuple[str, str]]:
    """(name, description) of the features of the selected manifest starting with ``incomplete``,
    but those ``--with`` already gave."""
    from npuslim.pipeline.sources import manifest_for

    params = ctx.params or {}
    try:
        manifest = manifest_for(params.get("manifest"), params.get("onnxruntime"))
    except (NpuslimError, OSError):
        return []
    given = set(params.get("with_") or ())
    return [(f.name, f"{f.description}{' (default)' if f.default else ''}")
            for f in manifest.features if f.name.startswith(incomplete) and f.name not in given]
