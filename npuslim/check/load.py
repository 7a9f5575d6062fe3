"""``verify --load``: run a bundle through a real loader, the one its platform uses.

The platform comes from the bundle's lock file (``read_lock``); ``PLANNERS``
holds one loader per platform: the Windows loader (natively on Windows, under
Wine elsewhere; ``load_windows``) and ld.so (natively on Linux;
``load_linux``). Each prepares its probe run (``ProbePlan``); the probe is
started, waited for and judged the same way on both (``loading``), so the two
cannot drift apart.

``start_load`` returns as soon as the probe runs; ``load_alongside`` does other work
(``verify``'s checks) while the probe runs, when the probe cannot change the bundle;
``load_bundle`` waits at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from npuslim.check.load_linux import plan_linux_load
from npuslim.check.load_windows import plan_windows_load
from npuslim.check.loading import LoadRequest, LoadResult, ProbePlan, StartedLoad
from npuslim.formats.lock import BundleLock, read_lock
from npuslim.layout import LOCK_FILE
from npuslim.platforms import Platform
from npuslim.progress import ProgressFn, Reporter

T = TypeVar("T")
Planner = Callable[[Path, BundleLock, LoadRequest, Reporter], ProbePlan]
PLANNERS: dict[Platform, Planner] = {
    Platform.WINDOWS: plan_windows_load,
    Platform.LINUX: plan_linux_load,
}


def _plan(bundle: Path, request: LoadRequest | None, lock: BundleLock | None, reporter: Reporter) -> ProbePlan:
    """What must happen before the probe can run (the sandbox check, building the probe once, a new
    Wine prefix's set-up), then the probe's run; a loader that cannot run at all is a ``ToolError``."""
    lock = lock if lock is not None else read_lock(bundle, LOCK_FILE)
    return PLANNERS[lock.platform](bundle, lock, request or LoadRequest(), reporter)


def start_load(bundle: Path, request: LoadRequest | None = None, *, lock: BundleLock | None = None,
               progress: ProgressFn | None = None) -> StartedLoad:
    """Start the probe of ``bundle`` through its platform's loader and return while it runs; use it
    as a context manager (leaving it early kills the probe) and ask its ``result()``."""
    reporter = Reporter(progress)
    return StartedLoad(_plan(bundle, request, lock, reporter), reporter)


def load_alongside(bundle: Path, request: LoadRequest | None, work: Callable[[], T], *,
                   progress: ProgressFn | None = None) -> tuple[T, LoadResult]:
    """``work()`` (``verify``'s checks of ``bundle``) and ``load_bundle``, overlapped when they can be.

    A confined probe sees the bundle read-only, so ``work`` runs while it runs (Wine's start-up and
    the checks overlap). An unconfined probe runs the bundle's code with the user's rights, which may
    write into the bundle: ``work`` then runs first, so that what it checks is the bundle as it was
    given, never a bundle its own code is changing."""
    reporter = Reporter(progress)
    plan = _plan(bundle, request, None, reporter)
    if not plan.sandbox.confined:
        done = work()
        with StartedLoad(plan, reporter) as started:
            return done, started.result()
    with StartedLoad(plan, reporter) as started:
        done = work()
        return done, started.result()


def load_bundle(bundle: Path, request: LoadRequest | None = None, *, lock: BundleLock | None = None,
                progress: ProgressFn | None = None) -> LoadResult:
    """Load ``bundle`` through its platform's loader and judge each step (see ``loading``)."""
    with start_load(bundle, request, lock=lock, progress=progress) as started:
        return started.result()
