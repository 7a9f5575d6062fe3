"""Shell completion of ``--manifest`` (the shipped names) and ``--with`` (the features of the
manifest selected so far): the callbacks called directly, and through typer's completion
protocol as bash asks it (``_NPUSLIM_COMPLETE=complete_bash`` with COMP_WORDS and COMP_CWORD)."""

from __future__ import annotations

import pytest
import typer
from typer import _click as click

from npuslim.cli import app
from npuslim.cli.completion import complete_feature, complete_manifest, shipped_manifests
from npuslim.knowledge.manifest import WINDOWS_FACTS_FILE, load_manifest, manifests_dir
from tests.cli_helpers import run


def _features(name: str | None) -> list[str]:
    return [f.name for f in load_manifest(name).features]


def _ctx(command: str, **params: object) -> click.Context:
    group = typer.main.get_command(app)
    parent = click.Context(group, info_name="npuslim")
    cmd = group.get_command(parent, command)  # type: ignore[attr-defined]
    ctx = click.Context(cmd, parent=parent, info_name=command)
    ctx.params.update(params)
    return ctx


def test_the_manifest_names_are_the_shipped_files_but_the_windows_facts() -> None:
    names = shipped_manifests()
    assert names == sorted(p.stem for p in manifests_dir().glob("*.yaml") if p.name != WINDOWS_FACTS_FILE)
    assert {"npu", "npu-linux", "onnxruntime-npu"} <= set(names)
    assert WINDOWS_FACTS_FILE.removesuffix(".yaml") not in names
    assert [name for name, _ in complete_manifest("npu")] == ["npu", "npu-linux"]
    assert complete_manifest("./my") == [] and complete_manifest("sub/x") == []  # a path: the shell's files


def test_with_completes_the_default_manifests_features_without_those_given() -> None:
    ctx = _ctx("extract")
    items = complete_feature(ctx, "")
    assert [name for name, _ in items] == _features(None)
    assert all(description for _, description in items)
    ctx = _ctx("extract", with_=[_features(None)[0]])
    assert _features(None)[0] not in [name for name, _ in complete_feature(ctx, "")]


def test_with_follows_the_manifest_or_onnxruntime_given_before() -> None:
    ctx = _ctx("deps", manifest="cpu")
    assert [name for name, _ in complete_feature(ctx, "")] == _features("cpu")
    ctx = _ctx("extract", onnxruntime="onnxruntime-openvino==1.24.1")
    assert [name for name, _ in complete_feature(ctx, "")] == _features("onnxruntime-npu")
    ctx = _ctx("extract", manifest="no-such-manifest")
    assert complete_feature(ctx, "") == []  # never an error while completing


def _bash(words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = run(env={"_NPUSLIM_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("command", ["deps", "extract", "diff"])
def test_bash_completion_through_typer(command: str) -> None:
    assert _bash(f"npuslim {command} --with ") == _features(None)
    assert _bash(f"npuslim {command} --manifest cpu --with ") == _features("cpu")
    assert _bash(f"npuslim {command} --manifest ") == shipped_manifests()
    assert _bash(f"npuslim {command} -m onnx") == ["onnxruntime-npu", "onnxruntime-npu-linux"]
