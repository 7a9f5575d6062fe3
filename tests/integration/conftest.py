"""Integration tests: everything that is not a unit test.

They build DLLs and shared objects (mingw-w64, gcc), run Wine, UPX, pip, npm
and npuslim itself as processes, use the official wheels from the test cache,
or are pure but take more than a few seconds (the 2,000 PE mutations). Each
test here carries the ``integration`` marker, so ``-m "not integration"``
leaves them out as ``pytest tests/unit`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
