"""``verify``: check a bundle against its lock file, then (when asked) load it through the loader.

The two checks are independent: a bundle that fails the first is still
loaded when asked, so one run reports everything. Nothing here prints or
decides the exit code; ``VerifyOutcome`` says what failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.errors import LoadError, NpuslimError, VerifyError
from npuslim.progress import ProgressFn

if TYPE_CHECKING:
    from npuslim.check.loading import LoadRequest, LoadResult
    from npuslim.check.verify import VerifyResult


@dataclass(frozen=True)
class VerifyOutcome:
    """The verification of a bundle and, with ``--load``, the load that followed it."""

    result: VerifyResult
    load: LoadResult | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok and (self.load is None or self.load.ok)

    @property
    def failure(self) -> type[NpuslimError] | None:
        """The kind of failure whose exit code the command ends with: a failed check first
        (``VerifyError``), then a failed load (``LoadError``); ``None`` when all held."""
        if not self.result.ok:
            return VerifyError
        if self.load is not None and not self.load.ok:
            return LoadError
        return None


def verify_and_load(bundle: Path, *, load: LoadRequest | None = None, archive: Path | None = None,
                    progress: ProgressFn | None = None) -> VerifyOutcome:
    """``verify_bundle(bundle, archive=archive)`` and, when a ``load`` is asked for, ``load_bundle``;
    a sandboxed probe starts first (before the checks are even imported) and runs while the files
    are hashed, so Wine's start-up and the checks overlap (``load_alongside``)."""

    def check() -> VerifyResult:
        from npuslim.check.verify import verify_bundle

        return verify_bundle(bundle, archive=archive)

    if load is None:
        return VerifyOutcome(check())
    from npuslim.check.load import load_alongside  # the loaders, probes and sandbox: only for --load

    result, loaded = load_alongside(bundle, load, check, progress=progress)
    return VerifyOutcome(result, loaded)
