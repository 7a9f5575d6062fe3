"""The features of a slim wheel: the manifest's, extra device plugins, Python frontends; the label.

A slim wheel's features come from three places, one namespace:

- the NPU manifest's features (``ir``, ``onnx``, ``compiler``, ...), with the
  manifest's defaults, except ``c-api``: the C API serves C applications and a
  Python application never loads it, so a wheel leaves it out unless asked;
- extra device plugins, named by a shipped manifest (``cpu``, ``gpu``): their
  roots and companions join the closure (``manifests/cpu.yaml``, or its Linux
  sibling on a Linux wheel);
- the Python frontend modules the wheel holds (``openvino/frontend/<name>/``
  with a ``py_<name>_frontend`` extension: ``onnx``, ``pytorch``, ...), off by
  default. ``onnx`` is both a manifest feature and a frontend: one name turns on both.

The local version label names what the wheel holds beyond the defaults:
``npu``, ``npu.cpu``, ``npu.cpu.onnx``; a default turned off adds ``no<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from npuslim.errors import InputError
from npuslim.knowledge.manifest import Manifest

OFF_IN_WHEELS = frozenset({"c-api"})
DEVICE_MANIFESTS = ("cpu", "gpu")


@dataclass(frozen=True)
class WheelFeatures:
    """What a slim wheel holds beyond the NPU plugin and the Python extension."""

    manifest: frozenset[str]      # features of the NPU manifest
    devices: tuple[str, ...]      # extra device plugins, by shipped manifest name
    frontends: frozenset[str]     # Python frontend modules kept
    label: str                    # the local version label: npu, npu.cpu, ...

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.manifest | set(self.devices) | self.frontends))


def wheel_defaults(manifest: Manifest) -> frozenset[str]:
    """The manifest's default features a wheel keeps (all but ``OFF_IN_WHEELS``)."""
    return manifest.default_features() - OFF_IN_WHEELS


def select_wheel_features(manifest: Manifest, frontends: frozenset[str], with_: list[str] | None,
                          without: list[str] | None) -> WheelFeatures:
    """The wheel's defaults plus ``with_`` minus ``without`` (``all``: every manifest feature,
    device and frontend); an unknown name is an ``InputError`` listing the known ones."""
    known_manifest = {f.name for f in manifest.features}
    known = known_manifest | set(DEVICE_MANIFESTS) | frontends
    defaults = wheel_defaults(manifest)
    chosen = set(defaults)
    for name in with_ or []:
        if name == "all":
            chosen |= known
        elif name in known:
            chosen.add(name)
        else:
            raise InputError(_unknown(name, known))
    for name in without or []:
        if name not in known:
            raise InputError(_unknown(name, known))
        chosen.discard(name)
    return WheelFeatures(
        manifest=frozenset(chosen & known_manifest),
        # a device the NPU manifest offers as a feature of its own (cpu: the CPU and AUTO plugins) is that feature
        devices=tuple(d for d in DEVICE_MANIFESTS if d in chosen and d not in known_manifest),
        frontends=frozenset(chosen & frontends),
        label=local_label(manifest.name, frozenset(chosen), defaults),
    )


def local_label(manifest_name: str, chosen: frozenset[str], defaults: frozenset[str]) -> str:
    """``npu`` (the manifest's name without its platform suffix), then each chosen name that is
    not a default and ``no<name>`` for each default left out, sorted; only letters and digits."""
    def clean(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    base = clean(manifest_name.split("-", maxsplit=1)[0]) or "slim"
    extra = [clean(n) for n in chosen - defaults] + [f"no{clean(n)}" for n in defaults - chosen]
    return ".".join([base, *sorted(extra)])


def _unknown(name: str, known: set[str]) -> str:
    return f"unknown feature {name!r} for a wheel; known: {', '.join(sorted(known))} (or all)"
