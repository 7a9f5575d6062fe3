"""``wheel``: the stages in order, from an official openvino wheel to a slim one.

1. locate the wheel (``npuslim.pipeline.sources``, shared with extract: a file or a requirement);
2. read it: its listing, METADATA and Python sources, the kept extension modules unpacked
   into the cache (``npuslim.source.wheel_members``);
3. plan: the features, the closures, every member kept or dropped (``npuslim.plan.wheel``);
4. act: write the slim wheel beside DIST and move it into place (``npuslim.act.wheel_writer``).

Nothing here prints.
"""

from __future__ import annotations

from pathlib import Path

from npuslim.act.wheel_writer import WrittenWheel, write_wheel
from npuslim.errors import InputError
from npuslim.knowledge.manifest import load_windows_facts
from npuslim.pipeline.sources import Sources
from npuslim.plan.wheel import (
    WheelPlan,
    dist_info_of,
    extensions_to_keep,
    frontends_in,
    plan_wheel,
    python_sources,
)
from npuslim.plan.wheel_closure import WheelInputs
from npuslim.plan.wheel_features import select_wheel_features
from npuslim.progress import ProgressFn, Reporter
from npuslim.source.wheel_members import read_texts, unpack_members, wheel_listing


def plan_slim_wheel(sources: Sources, *, with_: list[str] | None, without: list[str] | None,
                    progress: ProgressFn | None = None) -> WheelPlan:
    """Read the official wheel of ``sources`` and plan the slim one (one ``analyse`` step)."""
    install = sources.install
    if install.wheel is None:
        raise InputError(f"{install.origin}: npuslim wheel needs an openvino wheel (a .whl file or a "
                         "requirement such as openvino==2026.4.1), not an installed folder")
    with Reporter(progress).step("analyse", install.wheel.name) as step:
        listing = wheel_listing(install.wheel)
        features = select_wheel_features(sources.manifest, frozenset(frontends_in(listing)), with_, without)
        extensions = extensions_to_keep(listing, features)
        texts = read_texts(install.wheel, (f"{dist_info_of(listing)}/METADATA", *python_sources(listing)))
        inputs = WheelInputs(install=install, manifest=sources.manifest, facts=load_windows_facts(),
                             listing=listing, texts=texts, extension_dir=unpack_members(install.wheel, extensions),
                             extensions=extensions)
        plan = plan_wheel(inputs, features)
        step.detail = f"{len(plan.entries)} files kept, {len(plan.dropped)} dropped"
    return plan


def write_slim_wheel(plan: WheelPlan, dist: Path, *, progress: ProgressFn | None = None) -> WrittenWheel:
    """Write the planned wheel into ``dist`` (see ``npuslim.act.wheel_writer.write_wheel``)."""
    return write_wheel(plan, dist, progress=progress)
