"""Feature matching (npuslim/plan/features.py) on a manifest and a folder of crafted DLLs the tests write.

Which features a release delivers follows from its companions' version ranges
and the files the source holds; a default feature it cannot deliver is dropped
with one warning; asking for one with ``--with`` is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.errors import InputError
from npuslim.knowledge.manifest import Manifest, load_manifest, load_windows_facts
from npuslim.plan.features import FeatureStatus, features_for_source
from npuslim.source.locate import OpenVinoInstall
from tests.support.crafted import build_pe

MANIFEST = """\
schema_version: 1
name: toy
description: features for the tests
roots: [root.dll]
features:
  base: {default: true, description: always shipped}
  fresh: {default: true, description: shipped from 2026.2 on}
  gone: {default: false, description: its companion is never in the source}
  old: {default: false, description: shipped before 2025 only}
  opt: {default: false, description: an optional companion}
companions:
  - {name: base.dll, loaded_by: root.dll, feature: base, reason: loaded at run time}
  - {name: fresh.dll, loaded_by: root.dll, feature: fresh, versions: ">=2026.2", reason: loaded at run time}
  - {name: gone.dll, loaded_by: root.dll, feature: gone, reason: loaded at run time}
  - {name: old.dll, loaded_by: root.dll, feature: old, versions: "<2025.0", reason: loaded at run time}
  - {name: opt.dll, loaded_by: root.dll, feature: opt, if_present: true, reason: loaded when there}
"""
FILES = {"root.dll": ("KERNEL32.dll",), "base.dll": ("basedep.dll",), "basedep.dll": ("KERNEL32.dll",),
         "fresh.dll": ("KERNEL32.dll",), "old.dll": ("KERNEL32.dll",)}


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    path = tmp_path / "toy.yaml"
    path.write_text(MANIFEST)
    return load_manifest(path)


def _install(tmp_path: Path, version: str | None, without: tuple[str, ...] = ()) -> OpenVinoInstall:
    dlls = tmp_path / f"dlls-{version}-{'-'.join(without)}"
    dlls.mkdir()
    for name, imports in FILES.items():
        if name not in without:
            (dlls / name).write_bytes(build_pe(imports))
    return OpenVinoInstall("test-install", "dll-folder", dlls, dlls, None, None, (), version)


def _match(install: OpenVinoInstall, manifest: Manifest, with_: list[str] | None = None,
           without: list[str] | None = None):
    choice, statuses = features_for_source(install, manifest, load_windows_facts(), with_=with_, without=without)
    return choice, {s.name: s for s in statuses}


def _where(version: str) -> str:
    return f"this source (OpenVINO {version}, test-install)"


def test_a_release_in_every_range_delivers_what_its_files_allow(tmp_path: Path, manifest: Manifest) -> None:
    choice, by = _match(_install(tmp_path, "2026.4.1"), manifest)
    assert {n for n, s in by.items() if s.available} == {"base", "fresh"}
    assert by["gone"].reason == f"gone.dll is not in {_where('2026.4.1')}"
    assert by["opt"].reason == f"opt.dll is not in {_where('2026.4.1')}"
    assert by["old"].reason == (f"the manifest gives old.dll only to other releases (old.dll <2025.0), "
                                f"not to {_where('2026.4.1')}")
    assert choice.requested == choice.delivered == {"base", "fresh"} and choice.dropped == ()
    # what a feature adds: its companion and the companion's own imports
    assert [n for n, _ in by["base"].adds] == ["base.dll", "basedep.dll"]
    assert [n for n, _ in by["fresh"].adds] == ["fresh.dll"]
    assert by["base"].added_bytes == sum(len(build_pe(FILES[n])) for n in ("base.dll", "basedep.dll"))
    assert by["gone"].adds == () and by["old"].adds == ()


def test_a_release_before_a_range_drops_the_default_with_one_warning(tmp_path: Path, manifest: Manifest) -> None:
    # fresh.dll is in the folder, but 2026.1 is outside ">=2026.2": the file does not make the feature
    choice, by = _match(_install(tmp_path, "2026.1.0"), manifest)
    reason = f"fresh.dll is not in {_where('2026.1.0')}; OpenVINO releases from 2026.2 on ship it"
    assert not by["fresh"].available and by["fresh"].reason == reason
    assert choice.requested == {"base", "fresh"} and choice.delivered == {"base"}
    assert choice.dropped == (("fresh", reason),)
    assert choice.warnings() == (f"feature fresh left out: {reason}",)


def test_a_release_in_range_without_the_file_drops_it_too(tmp_path: Path, manifest: Manifest) -> None:
    choice, by = _match(_install(tmp_path, "2026.4.1", without=("fresh.dll",)), manifest)
    assert by["fresh"].reason == f"fresh.dll is not in {_where('2026.4.1')}"
    assert choice.delivered == {"base"} and [n for n, _ in choice.dropped] == ["fresh"]


@pytest.mark.parametrize(("version", "feature"), [("2026.4.1", "gone"), ("2026.4.1", "old"), ("2026.1.0", "fresh"),
                                             ("2026.4.1", "opt")])
def test_asking_for_a_feature_the_source_cannot_deliver_is_refused(tmp_path: Path, manifest: Manifest,
                                                                   version: str, feature: str) -> None:
    with pytest.raises(InputError, match=f"^feature {feature} cannot be delivered: .*{version}"):
        _match(_install(tmp_path, version), manifest, with_=[feature])


def test_an_optional_companion_that_is_there_is_delivered(tmp_path: Path, manifest: Manifest) -> None:
    install = _install(tmp_path, "2026.4.1")
    (install.dll_dir / "opt.dll").write_bytes(build_pe())
    choice, by = _match(install, manifest, with_=["opt"])
    assert by["opt"].available and choice.delivered == {"base", "fresh", "opt"}


def test_all_takes_what_the_source_has_and_without_wins(tmp_path: Path, manifest: Manifest) -> None:
    choice, _ = _match(_install(tmp_path, "2024.6.0"), manifest, with_=["all"], without=["base"])
    # 2024.6: old applies, fresh does not (a default: dropped with its warning), gone and opt are absent
    assert choice.delivered == {"old"}
    assert [n for n, _ in choice.dropped] == ["fresh"]


def test_an_unknown_version_has_no_companions_so_every_feature_is_available(tmp_path: Path,
                                                                            manifest: Manifest) -> None:
    choice, by = _match(_install(tmp_path, None), manifest, with_=["gone"])
    assert all(isinstance(s, FeatureStatus) and s.available and s.adds == () for s in by.values())
    assert choice.delivered == {"base", "fresh", "gone"} and choice.dropped == ()


def test_unknown_feature_names_are_refused_with_the_list(tmp_path: Path, manifest: Manifest) -> None:
    with pytest.raises(InputError, match=r"unknown feature 'nope' for manifest toy \(features: base, fresh, gone"):
        _match(_install(tmp_path, "2026.4.1"), manifest, without=["nope"])
