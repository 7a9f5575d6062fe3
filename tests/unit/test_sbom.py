"""``extract --sbom``: a CycloneDX SBOM validated with cyclonedx-python-lib's own schema validator.

The pure half; the tests that build, run or download are in tests/integration/test_sbom.py.
"""

from __future__ import annotations

from npuslim.report.sbom import detect_license


def test_licence_texts_are_recognised() -> None:
    assert detect_license("                                 Apache License\n"
                          "                           Version 2.0, January 2004\n") == "Apache-2.0"
    assert detect_license("Permission is hereby granted, free of charge, to any person") == "MIT"
    assert detect_license("All rights reserved. Do not copy.") is None


def _file(path: str, role: str, sha: str, pack=None):
    from npuslim.formats.lock import LockedFile

    return LockedFile(path=path, role=role, size=10, sha256=sha, reason="r", file_version="14.40.33810.0",
                      pack=pack)


def test_a_rewritten_file_has_its_original_as_ancestor_and_notes_of_what_changed() -> None:
    from npuslim.formats.lock import PackRecord
    from npuslim.report.sbom import _pedigree

    record = PackRecord(original_size=20, original_sha256="a" * 64, stripped=True, upx="packed",
                        cfg_disabled=True, signature_removed=True)
    pedigree = _pedigree(_file("bin/openvino.dll", "import", "b" * 64, record))
    assert pedigree is not None
    (ancestor,) = pedigree.ancestors
    assert [h.content for h in ancestor.hashes] == ["a" * 64] and str(ancestor.bom_ref) == "bin/openvino.dll#original"
    assert pedigree.notes == ("npuslim pack: stripped; UPX-packed; Control Flow Guard flag cleared; "
                              "Authenticode signature removed")
    unchanged = PackRecord(original_size=10, original_sha256="b" * 64, upx="skipped")
    assert _pedigree(_file("bin/openvino.dll", "import", "b" * 64, unchanged)) is None
    assert _pedigree(_file("bin/openvino.dll", "import", "b" * 64)) is None


def test_requirements_are_excluded_components_and_the_msvc_runtime_has_its_own_purl() -> None:
    import json

    from cyclonedx.model.bom import Bom
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from npuslim.formats.lock import BundleLock, ManifestRecord, PackRecord, SourceRecord, TargetRequirement, Totals
    from npuslim.report.sbom import _BundleFacts, _component, _requirements

    lock = BundleLock(tool_version="0", created="2026-01-01T00:00:00Z", source=SourceRecord("o", "wheel", "r", None),
                      manifest=ManifestRecord("npu", "npu.yaml", "0" * 64), features=(),
                      files=(), requirements=(
                          TargetRequirement("driver", "Intel NPU driver (ze_loader.dll)", ("ze_loader.dll",),
                                            "installed with the NPU driver"),
                          TargetRequirement("windows", "Windows 10 or later", ("api-ms-win-crt-runtime-l1-1-0.dll",),
                                            "API sets")),
                      missing=(), headers=None, warnings=(), totals=Totals(0, 0))
    excluded = _requirements(lock)
    assert [c.scope.value for c in excluded] == ["excluded", "excluded"]  # type: ignore[union-attr]
    assert [c.type.value for c in excluded] == ["device-driver", "operating-system"]
    facts = _BundleFacts(ov_version=None, spdx=None, license_file=None, notices=(), imports={}, by_name={},
                         ort_license=None, intel=None)  # type: ignore[arg-type]
    msvc = _component(_file("bin/msvcp140.dll", "msvc-runtime", "c" * 64,
                            PackRecord(original_size=20, original_sha256="d" * 64, upx="packed")), facts)
    assert str(msvc.purl) == "pkg:generic/microsoft/msvcp140.dll@14.40.33810.0"
    text = JsonV1Dot6(Bom(components=[msvc, *excluded])).output_as_string()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    written = {c["bom-ref"]: c for c in json.loads(text)["components"]}
    assert written["bin/msvcp140.dll"]["pedigree"]["notes"] == "npuslim pack: UPX-packed"
    assert written["bin/msvcp140.dll"]["pedigree"]["ancestors"][0]["hashes"][0]["content"] == "d" * 64
