"""The header closure (npuslim/analyse/headers.py) on include trees the tests write.

From the roots, ``#include`` lines are followed when they resolve inside the
include folder: a quoted include first beside the including header, then from
the top; an angle-bracket include from the top only. What does not resolve
there (the standard library, absolute paths, paths climbing out) is left to
the compiler; a header that is a symbolic link out of the tree is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from npuslim.analyse.headers import header_closure, includes_of
from npuslim.errors import InputError


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_includes_are_followed_transitively_and_the_rest_is_left_out(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {
        "ov/c.h": '#include "ov/core.h"\n#include <stdint.h>\n',
        "ov/core.h": '#include "ov/types.h"\n',
        "ov/types.h": "typedef int ov_t;\n",
        "ov/unused.h": "/* nobody includes me */\n",
        "other/big.hpp": "#pragma once\n",
    })
    closure = header_closure(inc, ("ov/c.h",))
    assert closure.kept == ("ov/c.h", "ov/core.h", "ov/types.h")
    assert closure.total == 5 and closure.missing_roots == ()


def test_a_quoted_include_looks_beside_the_includer_first(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {
        "ov/api.h": '#include "detail.h"\n',
        "ov/detail.h": "/* the neighbour */\n",
        "detail.h": "/* the top-level one */\n",
    })
    assert header_closure(inc, ("ov/api.h",)).kept == ("ov/api.h", "ov/detail.h")


def test_a_quoted_include_falls_back_to_the_top_of_the_tree(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {"ov/api.h": '#include "common.h"\n', "common.h": "\n"})
    assert header_closure(inc, ("ov/api.h",)).kept == ("common.h", "ov/api.h")


def test_an_angle_include_never_looks_beside_the_includer(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {
        "ov/api.h": "#include <detail.h>\n",
        "ov/detail.h": "/* beside, not searched for <...> */\n",
        "detail.h": "/* from the top */\n",
    })
    assert header_closure(inc, ("ov/api.h",)).kept == ("detail.h", "ov/api.h")
    inc2 = tree(tmp_path / "include2", {"ov/api.h": "#include <detail.h>\n", "ov/detail.h": "\n"})
    assert header_closure(inc2, ("ov/api.h",)).kept == ("ov/api.h",)


def test_cycles_end_and_each_header_is_kept_once(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {
        "a.h": '#include "b.h"\n#include "a.h"\n',
        "b.h": '#include "c.h"\n',
        "c.h": '#include "a.h"\n#include "b.h"\n',
    })
    assert header_closure(inc, ("a.h", "c.h", "a.h")).kept == ("a.h", "b.h", "c.h")


def test_missing_includes_are_the_compilers_and_missing_roots_are_reported(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {"a.h": '#include "gone.h"\n#include <vector>\n'})
    (inc / "dir").mkdir()
    closure = header_closure(inc, ("a.h", "nowhere.h", "dir"))
    assert closure.kept == ("a.h",)
    assert closure.missing_roots == ("nowhere.h", "dir")


def test_paths_that_climb_out_or_are_absolute_are_never_followed(tmp_path: Path) -> None:
    tree(tmp_path, {"secret.h": "/* outside the include folder */\n"})
    inc = tree(tmp_path / "include", {
        "ov/a.h": '#include "../../secret.h"\n#include "../b.h"\n#include "/etc/hostname"\n'
                  f'#include "{tmp_path / "secret.h"}"\n#include "C:\\\\x.h"\n',
        "b.h": '#include "ov/./../ov/c.h"\n',
        "ov/c.h": "\n",
    })
    closure = header_closure(inc, ("ov/a.h",))
    assert closure.kept == ("b.h", "ov/a.h", "ov/c.h")
    assert header_closure(inc, ("../secret.h", "/etc/hostname")).missing_roots == ("../secret.h", "/etc/hostname")


def test_a_header_that_is_a_link_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    tree(tmp_path, {"outside.h": "\n"})
    inc = tree(tmp_path / "include", {"a.h": '#include "link.h"\n'})
    os.symlink(tmp_path / "outside.h", inc / "link.h")
    with pytest.raises(InputError, match="leads outside"):
        header_closure(inc, ("a.h",))


def test_a_link_inside_the_tree_is_followed(tmp_path: Path) -> None:
    inc = tree(tmp_path / "include", {"a.h": '#include "alias.h"\n', "real/target.h": "\n"})
    os.symlink(inc / "real" / "target.h", inc / "alias.h")
    assert header_closure(inc, ("a.h",)).kept == ("a.h", "alias.h")


@pytest.mark.parametrize(("line", "expected"), [
    (b'#include "a.h"\n', [(b'"', "a.h")]),
    (b"  #  include   <b/c.hpp>\n", [(b"<", "b/c.hpp")]),
    (b"\t#include\t\"tab.h\"\r\n", [(b'"', "tab.h")]),
    (b'// #include "commented.h"\n', []),
    (b'int x; #include "not_at_line_start.h"\n', []),
    (b"#define X 1\n#include <last.h>", [(b"<", "last.h")]),
])
def test_include_lines(tmp_path: Path, line: bytes, expected: list[tuple[bytes, str]]) -> None:
    path = tmp_path / "h.h"
    path.write_bytes(line)
    assert list(includes_of(path)) == expected


def test_a_line_longer_than_a_chunk_is_not_read_as_an_include(tmp_path: Path) -> None:
    path = tmp_path / "h.h"
    path.write_bytes(b"/*" + b"x" * 10_000 + b'*/ #include "hidden.h"\n#include "seen.h"\n')
    assert list(includes_of(path)) == [(b'"', "seen.h")]
