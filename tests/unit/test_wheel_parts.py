"""The pure parts of npuslim wheel: eager imports, feature labels, file names, RECORD hashes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from npuslim.act.wheel_writer import record_hash
from npuslim.analyse.python_imports import eager_imports, module_name
from npuslim.errors import InputError, OutputError
from npuslim.knowledge.manifest import load_manifest
from npuslim.plan.wheel import _filename, _metadata_version, _with_version, is_extension
from npuslim.plan.wheel_closure import is_interpreter_library
from npuslim.plan.wheel_features import local_label, select_wheel_features


def test_eager_imports_guarded_and_unguarded() -> None:
    sources = {
        "pkg": "from pkg import a\ntry:\n    from pkg.tools import conv\nexcept ImportError:\n    pass\n",
        "pkg.a": "import os\n\ndef f():\n    import pkg.fe.onnx\n",
        "pkg.tools": "", "pkg.tools.conv": "from pkg.fe.torch.utils import x\n",
        "pkg.fe": "",
    }
    found = eager_imports(sources, "pkg", frozenset({"pkg.fe.onnx", "pkg.fe.torch"}))
    assert [(e.chain, e.guarded) for e in found] == [
        (("pkg", "pkg.tools.conv", "pkg.fe.torch"), True)]  # onnx only inside a function
    sources["pkg.a"] = "from .fe import onnx\n"
    unguarded = eager_imports(sources, "pkg", frozenset({"pkg.fe.onnx"}))
    assert [(e.chain, e.guarded) for e in unguarded] == [(("pkg", "pkg.a", "pkg.fe.onnx"), False)]


def test_module_names() -> None:
    assert module_name("openvino/frontend/__init__.py") == "openvino.frontend"
    assert module_name("openvino/_ov_api.py") == "openvino._ov_api"
    assert module_name("openvino/libs/x.so") is None


def test_features_and_labels() -> None:
    npu = load_manifest("npu")
    chosen = select_wheel_features(npu, frozenset({"onnx", "pytorch"}), ["cpu", "onnx"], None)
    # cpu is the NPU manifest's own feature (the CPU and AUTO plugins), not a second device manifest
    assert chosen.label == "npu.cpu.onnx" and chosen.devices == ()
    assert chosen.manifest == {"cpu", "ir", "onnx"} and chosen.frontends == {"onnx"}  # c-api left out by default
    gpu = select_wheel_features(npu, frozenset(), ["gpu"], None)
    assert gpu.devices == ("gpu",) and gpu.label == "npu.gpu"
    assert select_wheel_features(npu, frozenset(), None, ["ir"]).label == "npu.noir"
    assert local_label("npu-linux", frozenset({"ir", "c-api"}), frozenset({"ir"})) == "npu.capi"
    with pytest.raises(InputError, match="unknown feature 'tensorflow'"):
        select_wheel_features(npu, frozenset({"onnx"}), ["tensorflow"], None)


def test_names_versions_and_hashes() -> None:
    assert _filename("openvino-2026.4.1-22982-cp311-cp311-win_amd64.whl", "npu") == \
        "openvino-2026.4.1+npu-22982-cp311-cp311-win_amd64.whl"
    assert _filename("openvino-2026.4.1-cp311-cp311-win_amd64.whl", "npu.cpu") == \
        "openvino-2026.4.1+npu.cpu-cp311-cp311-win_amd64.whl"
    metadata = "Metadata-Version: 2.1\r\nName: openvino\r\nVersion: 2026.4.1\r\nSummary: x\r\n"
    assert _metadata_version(metadata) == "2026.4.1"
    assert "Version: 2026.4.1+npu\r\n" in _with_version(metadata, "2026.4.1+npu")
    with pytest.raises(InputError, match="local label"):
        _metadata_version("Version: 1.0+cpu\n")
    digest = hashlib.sha256(b"abc").digest()
    assert record_hash(digest) == "sha256=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert "=" not in record_hash(digest)[7:]
    assert is_extension("openvino/_pyopenvino.cp311-win_amd64.pyd")
    assert is_extension("openvino/_pyopenvino.cpython-311-x86_64-linux-gnu.so")
    assert not is_extension("openvino/libs/libopenvino.so.2641")
    assert is_interpreter_library("python311.dll") and is_interpreter_library("libpython3.11.so.1.0")
    assert not is_interpreter_library("openvino.dll")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_a_wheel_that_could_not_be_written_leaves_no_folder_made_for_it(tmp_path, monkeypatch, stop) -> None:
    """Ctrl-C (or a full disk) while the wheel is written: no empty DIST is left, no temporary file,
    and a DIST that was there before stays."""
    from types import SimpleNamespace

    from npuslim.act import wheel_writer

    def interrupted(*_a: object) -> list[str]:
        raise stop()

    monkeypatch.setattr(wheel_writer, "_write_entries", interrupted)
    plan = SimpleNamespace(filename="openvino-2026.4.1+npu-cp311-cp311-win_amd64.whl", dist_info="x.dist-info")
    with pytest.raises(KeyboardInterrupt if stop is KeyboardInterrupt else OutputError):
        wheel_writer.write_wheel(plan, tmp_path / "made" / "dist")  # type: ignore[arg-type]
    assert not (tmp_path / "made").exists()  # nor the folder above it, made for it too
    (tmp_path / "there").mkdir()
    with pytest.raises(KeyboardInterrupt if stop is KeyboardInterrupt else OutputError):
        wheel_writer.write_wheel(plan, tmp_path / "there")  # type: ignore[arg-type]
    assert (tmp_path / "there").is_dir() and list((tmp_path / "there").iterdir()) == []
