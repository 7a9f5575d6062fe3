"""cli/layout.py: lines break between pieces only, never inside a name, a size or a path."""

from __future__ import annotations

import pytest
from rich.text import Text

from npuslim.cli.common import output_width
from npuslim.cli.layout import Column, Node, prose, table, tree, wrap


def plain(lines: list[Text]) -> list[str]:
    return [line.plain for line in lines]


def test_width_is_columns_else_the_terminal_else_unlimited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output_width(True, 100) == 100
    assert output_width(False, 100) is None  # a pipe or a file is never cut to 80
    monkeypatch.setenv("COLUMNS", "50")
    assert output_width(False, 100) == 50 and output_width(True, 100) == 50
    monkeypatch.setenv("COLUMNS", "wide")
    assert output_width(False, 100) is None


def test_a_size_stays_with_its_unit_and_a_long_piece_stays_whole() -> None:
    assert [p.plain for p in prose("adds 509 kB, about 100 MB (+1.2 MB) or 13.4 %")] == [
        "adds", "509 kB,", "about", "100 MB", "(+1.2 MB)", "or", "13.4 %"]
    path = "/a/very/long/path/that/does/not/fit/in/twenty/columns.dll"
    lines = plain(wrap(["copied", path, "to", "509 kB"], 20, first="  ", rest="    "))
    assert lines == ["  copied", f"    {path}", "    to 509 kB"]


def test_unlimited_width_never_wraps_and_no_line_ends_in_spaces() -> None:
    words = prose("word " * 100)
    assert plain(wrap(words, None)) == [("word " * 100).strip()]
    assert all(line == line.rstrip() for line in plain(wrap(words, 13, first="  ")))


def test_tree_guides_and_continuation_lines() -> None:
    root = Node(["root"])
    a = root.add(["a.dll", "bundled", "·", "1 kB"], prose("the reason, on its own line"))
    a.add(["b.dll"])
    root.add(["c.dll"])
    assert plain(tree(root, 14)) == [
        "root",
        "├── a.dll",
        "│   │   bundled",
        "│   │   · 1 kB",
        "│   │   the",
        "│   │   reason,",
        "│   │   on its",
        "│   │   own",
        "│   │   line",
        "│   └── b.dll",
        "└── c.dll",
    ]


def test_a_table_that_does_not_fit_lists_each_rows_values_under_its_name() -> None:
    columns = [Column("DLL"), Column("size", right=True), Column("via")]
    rows = [["openvino.dll", "16.5 MB", "import"], ["tbb12.dll", "337 kB", "import"]]
    details = [[prose("pulled in by openvino_intel_npu_plugin.dll")], []]
    wide = plain(table(columns, rows, 80, details=details))
    assert wide == ["DLL              size  via", "────────────  ───────  ──────",
                    "openvino.dll  16.5 MB  import", "    pulled in by openvino_intel_npu_plugin.dll",
                    "tbb12.dll      337 kB  import"]
    narrow = plain(table(columns, rows, 24, details=details))
    assert narrow == ["openvino.dll", "    size 16.5 MB ·", "    via import", "    pulled in by",
                      "    openvino_intel_npu_plugin.dll", "tbb12.dll", "    size 337 kB ·", "    via import"]
