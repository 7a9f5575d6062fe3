"""README.md, CONTRIBUTING.md and docs/: the README stays short, its two commands stay, no link is dead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
if (REPO / "CONTRIBUTING.md").is_file():
    PAGES.append(REPO / "CONTRIBUTING.md")

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _code_lines(text: str) -> list[str]:
    """The lines inside fenced code blocks."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line.strip())
    return lines


def test_the_readme_is_read_in_five_minutes() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def test_the_readme_keeps_its_two_commands_in_code_blocks() -> None:
    code = _code_lines(README.read_text(encoding="utf-8"))
    # the main job on a fresh machine, and the test command .ci/run stands for
    assert "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/npuslim deps openvino==2026.4.1" in code
    assert ".ci/install-test-deps && .venv/bin/python -m pytest" in code


def test_the_quick_start_shows_deps_extract_pack_and_verify_early() -> None:
    head = "\n".join(README.read_text(encoding="utf-8").splitlines()[:90])
    for command in ("deps", "extract", "pack", "verify"):
        assert f"$ npuslim {command} " in head, command


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_relative_link_names_a_file_of_the_repository(page: Path) -> None:
    dead = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            dead.append(target)
    assert not dead, f"{page.name}: {dead}"


@pytest.mark.parametrize("page", PAGES[1:], ids=[p.relative_to(REPO).as_posix() for p in PAGES[1:]])
def test_every_page_links_back_to_the_readme(page: Path) -> None:
    if page.name == "CONTRIBUTING.md":
        assert "(README.md)" in page.read_text(encoding="utf-8")
    else:
        assert "(../README.md)" in page.read_text(encoding="utf-8").split("\n\n")[1]
