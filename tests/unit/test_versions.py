"""Release numbers and version ranges (npuslim.knowledge.versions, over ``packaging``)."""

from __future__ import annotations

import pytest

from npuslim.knowledge.versions import VersionRange, parse_version


@pytest.mark.parametrize(("text", "release"), [
    ("2026.4.1.22982", (2026, 4, 1, 22982)),       # openvino.dll's file version
    ("2024.6.0-17404-4c0f47d2335", (2024, 6, 0)),  # an OpenVINO build string (not PEP 440)
    ("2026.0.0.dev20251101", (2026, 0, 0)),        # a nightly's dist-info version
    ("2026.1.0rc2", (2026, 1, 0)),
    ("2025.4.1+local", (2025, 4, 1)),
    ("14.38", (14, 38)),                           # an MSVC linker version
    ("  2024.06 ", (2024, 6)),
])
def test_only_the_release_counts(text: str, release: tuple[int, ...]) -> None:
    assert parse_version(text).release == release


@pytest.mark.parametrize("text", ["", "x", "v", "-1", ".5", "9" * 5000])
def test_what_is_not_a_version_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a version") as err:
        parse_version(text)
    assert len(str(err.value)) < 100


def test_releases_sort_by_number_not_by_text() -> None:
    releases = ["2024.0.0", "2026.10.0", "2026.4.1", "2025.4.1", "2026.4.1.22982", "2024.6.0-17404-4c0f47d2335"]
    assert sorted(releases, key=parse_version) == [
        "2024.0.0", "2024.6.0-17404-4c0f47d2335", "2025.4.1", "2026.4.1", "2026.4.1.22982", "2026.10.0"]
    assert max(["14.29", "14.38", "14.4"], key=parse_version) == "14.38"
    assert parse_version("2024.3") == parse_version("2024.3.0.0")


@pytest.mark.parametrize(("text", "version", "expected"), [
    ("", "2024.0.0", True),
    ("", "2026.0.0.dev1", True),
    (">=2026.0", "2026.4.1.22982", True),
    (">=2026.0", "2025.4.0", False),
    (">=2026.0", "2026.0.0.dev20251101", True),    # a nightly of 2026.0 is 2026.0
    (">=2024.0,<2024.3", "2024.2.0.15519", True),
    (">=2024.0,<2024.3", "2024.3", False),
    (">=2024.0,<2024.3", "2024.3.0rc1", False),
    ("<2024.3", "2024.3.0rc1", False),            # releases only: rc1 of 2024.3 is 2024.3
    ("==2024.6", "2024.6.0.0", True),
    ("==2024.6", "2024.6.1", False),
    ("==2024.*", "2024.6.1", True),
    ("!=2024.6", "2024.6.0", False),
    ("~=2026.1", "2026.4.1", True),
    (">2024.3", "2024.3.0.1", True),
    (" >= 2024.0 , < 2026.1 ,", "2025.1", True),
    (">=2024.6", "2024.6.0-17404-4c0f47d2335", True),
])
def test_version_ranges(text: str, version: str, expected: bool) -> None:
    assert VersionRange(text).contains(version) is expected


@pytest.mark.parametrize("text", [">=x", "abc", "=>2024", ">=2024.0;", "2024.1", ">=" + "9" * 5000, ">= 1 2"])
def test_a_bad_range_is_a_value_error_when_made(text: str) -> None:
    with pytest.raises(ValueError, match="bad version range") as err:
        VersionRange(text)
    assert len(str(err.value)) < 150


def test_bounds_of_a_range() -> None:
    assert VersionRange(">=2024.0,<2026.1").lower_bounds() == ("2024.0",)
    assert not VersionRange(">=2024.0,<2026.1").is_open_ended()
    assert not VersionRange(">=2024.0,<=2026.1").is_open_ended()
    assert VersionRange(">=2026.2").is_open_ended() and VersionRange("").is_open_ended()
    assert VersionRange("").lower_bounds() == ()


def test_ranges_compare_by_text() -> None:
    assert VersionRange(">=2026.0") == VersionRange(">=2026.0")
    assert VersionRange(">=2026.0") != VersionRange(">=2026.1")
    assert repr(VersionRange(">=2026.0")) == "VersionRange(text='>=2026.0')"
