"""The Linux closure of the official manylinux wheel is the same however its folder is written
(issue 21: ``$ORIGIN`` was expanded only for an absolute source)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli_helpers import run

pytestmark = pytest.mark.wheels


def test_relative_and_absolute_wheel_folders_give_one_closure(ovlinux2026, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Path(ovlinux2026.dll_dir)
    answers = []
    for cwd, source in ((lib.parent, os.path.relpath(lib, lib.parent)), (lib, "."), (lib, str(lib)),
                        (lib, f"../{lib.name}/../{lib.name}")):
        monkeypatch.chdir(cwd)
        result = run("deps", source, "--format", "json", "--no-hints")
        assert result.exit_code == 0, (source, result.stderr)
        answers.append(json.loads(result.stdout))
    assert all(a["nodes"] == answers[0]["nodes"] for a in answers[1:])
    assert all(a == answers[0] for a in answers[1:])
    assert not [n for n in answers[0]["nodes"] if "not on its own RPATH" in n["reason"]]
