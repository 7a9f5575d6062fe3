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
