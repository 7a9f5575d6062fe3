"""Choosing the features of a bundle manifest: defaults, ``--with`` and ``--without``."""

from __future__ import annotations

from npuslim.errors import InputError
from npuslim.manifest import BundleManifest


def select_features(manifest: BundleManifest, with_: list[str] | None,
                    without: list[str] | None) -> frozenset[str]:
    """The manifest's defaults plus ``with_`` minus ``without``; unknown names are an error."""
    known = {f.name for f in manifest.features}
    chosen = set(manifest.default_features())
    for name in with_ or []:
        if name == "all":
            chosen |= known
            continue
        if name not in known:
            raise InputError(_unknown(manifest, name))
        chosen.add(name)
    for name in without or []:
        if name not in known:
            raise InputError(_unknown(manifest, name))
        chosen.discard(name)
    return frozenset(chosen)


def _unknown(manifest: BundleManifest, name: str) -> str:
    names = ", ".join(f.name for f in manifest.features)
    return f"unknown feature {name!r} for manifest {manifest.name} (features: {names})"
