"""``extract``: the stages in order, from what the user named to a bundle folder.

1. check OUT as far as it can be checked without the source (before a wheel is fetched or unpacked);
2. locate the sources (``npuslim.pipeline.sources``, shared with deps) and the manifest for their platform;
3. plan: the features the source can deliver, then the bundle (``npuslim.plan``), nothing written;
4. check the plan against the size budget (``npuslim.check.budget``);
5. act: write the bundle in a staging folder, with its SBOM when asked, and move it into place.

The CLI calls these one by one so that it can render between them (the
feature list, the over-budget report, a progress bar); nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from npuslim.act.staging import ExtractResult, check_output, release_output, write_bundle
from npuslim.check.budget import BudgetReport, budget_limit, budget_to_dict, check_budget, enforce, measure
from npuslim.formats.lock import BundleLock
from npuslim.knowledge.manifest import WindowsFacts, load_windows_facts
from npuslim.pipeline.sources import Sources
from npuslim.plan.bundle import BundlePlan, PlanRequest, plan_bundle
from npuslim.plan.features import FeatureChoice, FeatureStatus, features_for_source
from npuslim.progress import ProgressFn, Reporter
from npuslim.source.install import public_name
from npuslim.source.locate import cache_dir, is_requirement


@dataclass(frozen=True)
class ExtractPlan:
    """Everything decided before a byte is written: the features, the bundle plan and its budget."""

    choice: FeatureChoice
    plan: BundlePlan
    budget: BudgetReport | None


def early_output_check(out: Path, source: str | None, *, force: bool) -> None:
    """Refuse an unusable OUT before the source is fetched or unpacked (``OutputError``, exit 7).

    The same check as the one before writing (``npuslim.act.staging.check_output``:
    a link, a file, not ours, not writable, another run on it), taken against
    what the source is known to be so far: a local folder or file, or the
    wheel cache for a requirement. ``release_early_check`` gives the lock back.
    """
    if source is None:
        return  # this Python's openvino package: locating it costs nothing, the full check follows
    local = Path(source)
    if local.exists():
        root = local if local.is_dir() or local.suffix.lower() == ".whl" else local.parent
    elif is_requirement(source):
        root = cache_dir() / "wheels"
    else:
        return  # not a source at all: locate says so
    check_output(out, root, force=force)


def release_early_check(out: Path) -> None:
    """Give back the lock ``early_output_check`` took (after a later step failed)."""
    release_output(out)


def list_features(sources: Sources, *, roots: tuple[str, ...] | None,
                  facts: WindowsFacts | None = None) -> tuple[FeatureStatus, ...]:
    """Every feature of the manifest with what it adds to this source (one dependency graph)."""
    _, statuses = features_for_source(sources.install, sources.manifest, facts or load_windows_facts(),
                                      with_=None, without=None, roots=roots, search_paths=sources.search_paths)
    return statuses


def plan_extract(sources: Sources, *, with_: list[str] | None, without: list[str] | None,
                 roots: tuple[str, ...] | None, allow_missing: bool, msvc_runtime: Path | None,
                 max_size: str | None, progress: ProgressFn | None = None) -> ExtractPlan:
    """Choose the features, plan the bundle and measure it against ``max_size`` (else the
    manifest's budget). Nothing is written; ``MissingDependencyError`` unless ``allow_missing``.
    The analysis is one ``analyse`` step for ``progress``."""
    with Reporter(progress).step("analyse", public_name(sources.install.origin)) as step:
        planned = _plan_extract(sources, with_=with_, without=without, roots=roots, allow_missing=allow_missing,
                                msvc_runtime=msvc_runtime, max_size=max_size)
        step.detail = f"{len(planned.plan.files)} files planned"
    return planned


def _plan_extract(sources: Sources, *, with_: list[str] | None, without: list[str] | None,
                  roots: tuple[str, ...] | None, allow_missing: bool, msvc_runtime: Path | None,
                  max_size: str | None) -> ExtractPlan:
    facts = load_windows_facts()
    choice, _ = features_for_source(sources.install, sources.manifest, facts, with_=with_, without=without,
                                    roots=roots, search_paths=sources.search_paths)
    request = PlanRequest(
        features=choice.delivered, facts=facts, roots=roots, search_paths=sources.search_paths,
        allow_missing=allow_missing, msvc_runtime_dir=msvc_runtime, features_requested=choice.requested,
        features_dropped=choice.dropped, onnxruntime=sources.onnxruntime,
    )
    plan = plan_bundle(sources.install, manifest=sources.manifest, request=request)
    return ExtractPlan(choice, plan, plan_budget(plan, max_size))


def plan_budget(plan: BundlePlan, max_size: str | None) -> BudgetReport | None:
    """The planned bundle against ``max_size`` (else the manifest's ``budget:``); ``None`` without one."""
    limit = budget_limit(max_size, plan.manifest)
    if limit is None:
        return None
    return check_budget(limit[0], [measure("bundle", ((f.dest, f.size) for f in plan.files))],
                        limit_text=limit[1], origin=limit[2])


def write_extract(planned: ExtractPlan, out: Path, *, force: bool, sbom: bool,
                  progress: ProgressFn | None = None) -> ExtractResult:
    """Write the planned bundle into ``out``: ``BudgetError`` (exit 9) first when it is over the
    budget, then the files, the lock file (with the budget) and the SBOM, atomically."""
    if planned.budget is not None:
        enforce(planned.budget)
    finish: Callable[[Path, BundleLock], None] | None = None
    if sbom:
        from npuslim.report.sbom import write_sbom

        def finish(staging: Path, lock: BundleLock) -> None:
            write_sbom(staging, lock, name=out.name)

    budget = budget_to_dict(planned.budget) if planned.budget is not None else None
    return write_bundle(planned.plan, out, force=force, budget=budget, finish=finish, progress=progress)
