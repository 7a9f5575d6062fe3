"""``npuslim verify --format json``: a verification (and its load) as the ``npuslim.verify`` document.

The document follows ``npuslim/schemas/verify.schema.json``; the field order is part of the output.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from npuslim import __version__

if TYPE_CHECKING:
    from npuslim.check.loading import LoadResult
    from npuslim.check.verify import VerifyResult

VERIFY_SCHEMA = "npuslim.verify"
VERIFY_SCHEMA_VERSION = 1


def load_dict(load: LoadResult) -> dict[str, Any]:
    """One ``verify --load`` run: its verdict, each step of the probe, the libraries the loader missed."""
    return {
        "ok": load.ok, "runner": load.runner, "device": load.device, "msvc_runtime": load.msvc_runtime,
        "verdict": load.verdict, "ran_on": load.ran_on or None, "sandboxed": load.sandboxed, "sandbox": load.sandbox,
        "steps": [{"name": s.name, "title": s.title, "ok": s.ok, "state": s.state.value, "detail": s.detail,
                   **({"not_checked": s.not_checked} if s.not_checked else {})} for s in load.steps],
        "missing": [{"library": lib, "needed_by": needer} for lib, needer in load.missing],
    }


def verify_dict(result: VerifyResult, load: LoadResult | None = None) -> dict[str, Any]:
    """The whole document: every problem found, and the load when one was asked for (else ``null``)."""
    return {
        "schema": VERIFY_SCHEMA,
        "schema_version": VERIFY_SCHEMA_VERSION,
        "tool_version": __version__,
        "bundle": str(result.bundle),
        "ok": result.ok,
        "files_checked": result.files_checked,
        "dlls_checked": result.dlls_checked,
        "problems": [{"path": p.path, "kind": p.kind, "message": p.message} for p in result.problems],
        "archive": ({"path": str(result.archive.path), "format": result.archive.format,
                     "members_checked": result.archive.members_checked} if result.archive else None),
        "load": load_dict(load) if load else None,
    }


def verify_json(result: VerifyResult, load: LoadResult | None = None) -> str:
    """``verify_dict`` as the text ``verify --format json`` prints (indented, one final newline)."""
    return json.dumps(verify_dict(result, load), indent=2) + "\n"
