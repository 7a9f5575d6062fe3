"""Reading ELF shared objects and resolving them the way ld.so does, on libraries built with gcc.

The pure half; the tests that build, run or download are in tests/integration/test_elf.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.analyse.resolve_elf import expand_origin, manylinux_glibc
from npuslim.errors import InputError, ManifestError
from npuslim.formats.elf import newest_versions, read_elf
from npuslim.knowledge.manifest import load_manifest
from npuslim.plan.features import manifest_for_install
from npuslim.source.install import compatible_platforms
from tests.cli_helpers import one_error_line, run


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "not an ELF file"),
    (b"\x7fELF", "truncated ELF file"),
    (b"this is text, not a shared object" * 4, "not an ELF file"),
])
def test_bad_files_are_one_clear_error(tmp_path, content, expected) -> None:
    path = tmp_path / "libbad.so"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected):
        read_elf(path)
    result = run("deps", str(path))
    assert result.exit_code == 4
    assert expected in one_error_line(result)


def test_newest_versions_compare_numerically() -> None:
    needs = [("libc.so.6", "GLIBC_2.3"), ("libc.so.6", "GLIBC_2.27"), ("libc.so.6", "GLIBC_2.3.4"),
             ("libstdc++.so.6", "GLIBCXX_3.4.9"), ("libstdc++.so.6", "GLIBCXX_3.4.22"), ("x", "weird")]
    assert newest_versions(needs) == {"GLIBC": "GLIBC_2.27", "GLIBCXX": "GLIBCXX_3.4.22"}


def test_origin_expansion_and_manylinux_tags() -> None:
    assert expand_origin("$ORIGIN/../lib", Path("/b/lib")) == Path("/b/lib/../lib")
    assert expand_origin("${ORIGIN}", Path("/b")) == Path("/b")
    assert expand_origin("$LIB/x", Path("/b")) is None
    assert manylinux_glibc("manylinux_2_28_x86_64") == "2.28"
    assert manylinux_glibc("manylinux2014_x86_64") == "2.17"
    assert manylinux_glibc("linux_x86_64") is None
    assert compatible_platforms("manylinux_2_28_x86_64") == ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
    assert compatible_platforms("manylinux2014_x86_64") == ("manylinux2014_x86_64",)


def test_linux_manifest_on_a_windows_install_is_refused(tmp_path) -> None:
    from npuslim.source.locate import OpenVinoInstall

    install = OpenVinoInstall("x", "dll-folder", tmp_path, tmp_path, None, None, (), None)
    with pytest.raises(ManifestError, match="is a Windows install"):
        manifest_for_install(install, load_manifest("npu-linux"))


def test_shipped_linux_manifests_load() -> None:
    for name in ("npu-linux", "cpu-linux"):
        manifest = load_manifest(name)
        assert manifest.roots[0].endswith(".so")
        assert {"ir", "c-api"} <= manifest.default_features()
