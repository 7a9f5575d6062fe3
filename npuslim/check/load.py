"""``verify --load``: run a bundle through a real loader, the one its platform uses.

The platform comes from the bundle's lock file (``read_lock``); ``LOADERS``
holds one loader per platform: the Windows loader (natively on Windows, under
Wine elsewhere; ``load_windows``) and ld.so (natively on Linux;
``load_linux``). Both share the probe protocol, the probe runner and the
final judgement (``loading``), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from npuslim.check.load_linux import load_linux_bundle
from npuslim.check.load_windows import load_windows_bundle
from npuslim.check.loading import LoadRequest, LoadResult
from npuslim.formats.lock import BundleLock, read_lock
from npuslim.layout import LOCK_FILE
from npuslim.platforms import Platform
from npuslim.progress import ProgressFn, Reporter

Loader = Callable[[Path, BundleLock, LoadRequest, Reporter], LoadResult]
LOADERS: dict[Platform, Loader] = {
    Platform.WINDOWS: load_windows_bundle,
    Platform.LINUX: load_linux_bundle,
}


def load_bundle(bundle: Path, request: LoadRequest | None = None, *, lock: BundleLock | None = None,
                progress: ProgressFn | None = None) -> LoadResult:
    """Load ``bundle`` through its platform's loader and judge each step (see ``loading``)."""
    lock = lock if lock is not None else read_lock(bundle, LOCK_FILE)
    return LOADERS[lock.platform](bundle, lock, request or LoadRequest(), Reporter(progress))
