"""UPX output parsers, on captured runs of real UPX 3.94, 4.2.2 (Debian's upx-ucl) and 4.2.3; finding UPX
under Debian's names; the time limit and stop of a UPX run.

The pure half; the tests that build, run or download are in tests/integration/test_upx_parsers.py.
"""

from __future__ import annotations

import pytest

from npuslim.act import upx
from tests.conftest import FIXTURES


def fixture(name: str) -> tuple[str, int]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"captured UPX output {path} is missing", pytrace=False)
    text = path.read_text()
    lines = text.rstrip("\n").splitlines()
    assert lines[-1].startswith("exit=")
    return "\n".join(lines[:-1]), int(lines[-1].split("=", 1)[1])


@pytest.mark.parametrize(("name", "version"), [("upx-4.2.3/version.txt", (4, 2, 3)), ("upx-3.94/version.txt", (3, 94)),
                                          ("upx-4.2.2/version.txt", (4, 2, 2))])
def test_version(name: str, version: tuple[int, ...]) -> None:
    text = (FIXTURES / name).read_text()
    assert upx.parse_version(text)[0] == version


@pytest.mark.parametrize(("name", "size_in", "size_out", "ratio"), [
    ("upx-4.2.3/pack-mingw-ok.txt", 13407, 7775, 57.99),
    ("upx-4.2.3/pack-mingw-quiet.txt", 13407, 7775, 57.99),
    ("upx-4.2.3/pack-force-ok.txt", 337160, 115976, 34.40),
    ("upx-4.2.2/pack-force-ok.txt", 337160, 115976, 34.40),
    ("upx-4.2.3/pack-lzma-force-ok.txt", 337160, 93960, 27.87),
    ("upx-3.94/pack-mingw-ok.txt", 13407, 7775, 57.99),
])
def test_successful_packs(name: str, size_in: int, size_out: int, ratio: float) -> None:
    outcome = upx.parse_pack(*fixture(name))
    assert outcome.ok and outcome.status == upx.PACKED
    assert (outcome.original_size, outcome.packed_size, outcome.ratio) == (size_in, size_out, ratio)
    assert outcome.format == "win64/pe"


def test_decompress_reports_sizes_the_right_way_round() -> None:
    outcome = upx.parse_pack(*fixture("upx-4.2.3/decompress-ok.txt"))
    assert outcome.original_size == 337160 and outcome.packed_size == 93960


@pytest.mark.parametrize(("name", "status", "message"), [
    ("upx-4.2.3/pack-guard-cf-refused.txt", upx.REFUSED,
     "CantPackException: GUARD_CF enabled PE files are not supported (use --force to disable)"),
    ("upx-4.2.2/pack-guard-cf-refused.txt", upx.REFUSED,
     "CantPackException: GUARD_CF enabled PE files are not supported (use --force to disable)"),
    ("upx-3.94/pack-loadconf-refused.txt", upx.REFUSED,
     "CantPackException: size of Load Configuration directory unexpected"),
    ("upx-4.2.3/pack-already-packed.txt", upx.ALREADY_PACKED, "AlreadyPackedException: already packed by UPX"),
    ("upx-4.2.3/pack-not-exe.txt", upx.UNKNOWN_FORMAT, "UnknownExecutableFormatException"),
    ("upx-4.2.3/pack-truncated.txt", upx.CORRUPT, "EOFException: premature end of file"),
])
def test_refusals_keep_upx_own_message(name: str, status: str, message: str) -> None:
    outcome = upx.parse_pack(*fixture(name))
    assert not outcome.ok
    assert outcome.status == status and outcome.message == message


@pytest.mark.parametrize(("name", "ok"), [
    ("upx-4.2.3/test-ok.txt", True),
    ("upx-3.94/test-ok.txt", True),
    ("upx-4.2.3/test-not-packed.txt", False),
])
def test_test_runs(name: str, ok: bool) -> None:
    outcome = upx.parse_test(*fixture(name))
    assert outcome.ok is ok
    if not ok:
        assert outcome.status == upx.NOT_PACKED and "not packed by UPX" in outcome.message


def test_a_pack_output_is_not_a_passed_test() -> None:
    assert not upx.parse_test(*fixture("upx-4.2.3/pack-mingw-ok.txt")).ok


def test_garbage_is_a_failure_with_the_last_line() -> None:
    outcome = upx.parse_pack("something odd happened\n", 3)
    assert outcome.status == upx.FAILED and "something odd happened" in outcome.message


def test_levels() -> None:
    assert upx.level_args(None) == [] and upx.level_args("9") == ["-9"]
    assert upx.level_args("best") == ["--best"] and upx.level_args("lzma") == ["--lzma"]
    with pytest.raises(ValueError):
        upx.level_args("11")
