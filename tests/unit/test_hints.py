"""String-scan hints on synthetic binaries (no tools needed)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from npuslim.analyse.hints import scan


def test_names_are_found_as_whole_words_in_ascii_and_utf16(tmp_path: Path) -> None:
    blob = tmp_path / "loader.dll"
    blob.write_bytes(
        b"\x00junk\x00openvino_intel_npu_compiler_loader\x00more"
        + "LoadLibraryW: tbbbind_2_5.dll\x00".encode("utf-16-le")
        + b"xxopenvino_ir_frontendxx\x00"  # inside a longer identifier: not a mention
    )
    candidates = {name: tmp_path / name for name in (
        "openvino_intel_npu_compiler_loader.dll", "openvino_intel_npu_compiler.dll", "tbbbind_2_5.dll",
        "openvino_ir_frontend.dll", "loader.dll")}
    hints, skipped = scan([(blob, ())], candidates)
    assert [h.name for h in hints] == ["openvino_intel_npu_compiler_loader.dll", "tbbbind_2_5.dll"]
    assert hints[0].found_in == ("loader.dll",) and skipped == ()


def test_only_the_given_ranges_are_searched(tmp_path: Path) -> None:
    blob = tmp_path / "a.dll"
    blob.write_bytes(b"code code tbb12 code" + b"\x00" * 100 + b"data openvino data")
    candidates = {"tbb12.dll": tmp_path / "tbb12.dll", "openvino.dll": tmp_path / "openvino.dll"}
    hints, _ = scan([(blob, ((20, 200),))], candidates)
    assert [h.name for h in hints] == ["openvino.dll"]


_WORD_CLASS = rb"[A-Za-z0-9_\-]"


def _oracle(data: bytes, names: list[str], ranges: list[tuple[int, int]]) -> set[str]:
    """The names a plain regular-expression search finds: the stem (own spelling or lower-cased) as
    ASCII or UTF-16LE, the byte before it (the one a character before, in UTF-16) and the byte after it
    not an identifier's, the whole of it inside one range."""
    found = set()
    for name in names:
        stem = name[:-4]
        for form in {stem, stem.lower()}:
            for token, width in ((form.encode("ascii"), 1), (form.encode("utf-16-le"), 2)):
                before = rb"(?<!" + _WORD_CLASS + (rb"[\s\S]" if width == 2 else b"") + b")"
                pattern = re.compile(before + re.escape(token) + rb"(?!" + _WORD_CLASS + b")")
                for off, size in ranges:
                    if any(m.end() <= off + size for m in pattern.finditer(data, off, len(data))
                           if m.start() < off + size):
                        found.add(name)
    return found


@pytest.mark.parametrize("seed", range(40))
def test_the_search_finds_what_a_regular_expression_finds(tmp_path: Path, seed: int) -> None:
    """Random data with the names of an install planted in it (shared starts, both encodings, in and
    out of identifiers, across range ends): the grouped search finds exactly what a regex finds."""
    rng = random.Random(seed)
    names = ["openvino.dll", "openvino_c.dll", "openvino_ir_frontend.dll", "openvino_intel_cpu_plugin.dll",
             "openvino_intel_npu_plugin.dll", "openvino_intel_npu_compiler.dll", "openvino_auto_plugin.dll",
             "openvino_auto_batch_plugin.dll", "tbb12.dll", "tbbbind_2_5.dll", "tbbmalloc.dll", "Tbb12_Debug.dll"]
    alphabet = b"abz_-09 \x00\x01./\xff"
    data = bytearray(rng.choice(alphabet) for _ in range(4000))
    for _ in range(rng.randrange(1, 12)):
        stem = rng.choice(names)[:-4]
        form = rng.choice([stem, stem.lower(), stem.upper(), stem[:-1]])
        raw = form.encode("utf-16-le") if rng.random() < 0.4 else form.encode()
        at = rng.randrange(0, len(data) - len(raw))
        data[at:at + len(raw)] = raw
    blob = tmp_path / "loader.dll"
    blob.write_bytes(bytes(data))
    cuts = sorted(rng.sample(range(len(data)), 4))
    ranges = [(cuts[0], cuts[1] - cuts[0]), (cuts[2], cuts[3] - cuts[2])]
    hints, _ = scan([(blob, tuple(ranges))], {name: tmp_path / name for name in names})
    assert {h.name for h in hints} == _oracle(bytes(data), names, ranges)


def test_a_shared_start_found_everywhere_still_finds_each_name(tmp_path: Path) -> None:
    """``openvino_`` thousands of times (past the bound on occurrences of one search): each name is
    then looked for on its own, and the one mention at the end is found."""
    blob = tmp_path / "loader.dll"
    blob.write_bytes(b" openvino_zz" * 5000 + b" openvino_c\x00")
    candidates = {name: tmp_path / name for name in ("openvino_c.dll", "openvino_ir_frontend.dll")}
    hints, _ = scan([(blob, ())], candidates)
    assert [h.name for h in hints] == ["openvino_c.dll"]
