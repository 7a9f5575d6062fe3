"""Text for people, laid out to a width without ever breaking a name, a size or a path.

Everything a command prints for people is made of *pieces*: a file name, a
path, a size ("509 kB"), a word of prose. Lines break only between pieces,
so a piece is never cut or folded; a piece wider than the room left is put
on a line of its own, longer than the width rather than broken. Long parts
(a chain, a reason, a description) go on their own indented lines instead of
extra columns. No line ends in spaces.

``width`` is the terminal's width, or ``COLUMNS`` when the user set it, or
``None`` when standard output is not a terminal: then nothing is wrapped and
every line is as long as its content (see ``npuslim.cli.common.output_width``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.text import Text

Piece = Text | str

GUIDE_MID, GUIDE_LAST, GUIDE_PIPE, GUIDE_SPACE = "├── ", "└── ", "│   ", "    "
_NUMBER = re.compile(r"^[~≈(+\-±]*[\d.,]+$")
_UNIT = re.compile(r"^(?:[kKMGT]i?B|B|bytes?|%|s|files?|DLLs?)\W*$")


def prose(text: str | Text, style: str = "") -> list[Text]:
    """``text`` as pieces, one per word (its styles kept); a number stays with the unit after
    it ("100 MB")."""
    rich = text if isinstance(text, Text) else Text(text, style=style)
    words = [w for w in rich.split(" ", include_separator=False) if w.plain]
    pieces: list[Text] = []
    i = 0
    while i < len(words):
        word = words[i]
        if i + 1 < len(words) and _NUMBER.match(word.plain) and _UNIT.match(words[i + 1].plain):
            word = Text.assemble(word, " ", words[i + 1])
            i += 1
        pieces.append(word)
        i += 1
    return pieces


def plain_lines(lines: Iterable[str], width: int | None) -> list[Text]:
    """Lines of plain text from the core: kept as they are (their alignment too) when they fit,
    else wrapped between words under their own indentation."""
    out: list[Text] = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip())]
        if width is None or len(line.rstrip()) <= width:
            out.append(Text(line.rstrip()))
        else:
            out += wrap(prose(line), width, first=indent, rest=indent + "    ")
    return out


def listed(names: Iterable[str], style: str = "", sep: str = ",") -> list[Text]:
    """Names as pieces, each but the last followed by ``sep``."""
    items = list(names)
    return [Text(name + (sep if i < len(items) - 1 else ""), style=style) for i, name in enumerate(items)]


def _text(piece: Piece) -> Text:
    return piece if isinstance(piece, Text) else Text(piece)


def wrap(pieces: Sequence[Piece], width: int | None, *, first: Piece = "", rest: Piece | None = None,
         sep: str = " ") -> list[Text]:
    """``pieces`` joined by ``sep`` into lines of at most ``width`` cells, each line starting
    with ``first`` (the first) or ``rest`` (default: as many spaces as ``first`` is wide).

    A line breaks only between pieces; a piece that does not fit even on a line
    of its own stays whole on that line. Trailing spaces are removed.
    """
    head = _text(first)
    cont = _text(rest) if rest is not None else Text(" " * head.cell_len)
    lines: list[Text] = []
    line = head.copy()
    empty = True
    for raw in pieces:
        piece = _text(raw)
        if not piece.plain:
            continue
        if not empty and width is not None and line.cell_len + len(sep) + piece.cell_len > width:
            lines.append(line)
            line, empty = cont.copy(), True
        if not empty:
            line.append(sep)
        line.append_text(piece)
        empty = False
    lines.append(line)
    for ln in lines:
        ln.rstrip()
    return lines


@dataclass
class Node:
    """One entry of a tree: its label (pieces), more lines below it, and its children."""

    label: Sequence[Piece]
    more: list[Sequence[Piece]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def add(self, label: Sequence[Piece], *more: Sequence[Piece]) -> Node:
        child = Node(label, list(more))
        self.children.append(child)
        return child


def tree(root: Node, width: int | None) -> list[Text]:
    """``root``'s label, then its children drawn with guides (``├──``, ``└──``, ``│``).

    A label too long for the line wraps under itself, four cells in; the lines
    in ``more`` (a reason, a chain) start on lines of their own there.
    """
    out = _node_lines(root, width, first="", rest="")
    # an explicit stack of (node, prefix, is_last) replaces recursion: trees can be deep
    stack: list[tuple[Node, str, bool]] = [(c, "", i == len(root.children) - 1)
                                           for i, c in enumerate(root.children)][::-1]
    while stack:
        node, prefix, last = stack.pop()
        child_prefix = prefix + (GUIDE_SPACE if last else GUIDE_PIPE)
        under = child_prefix + ("│" if node.children else " ") + "   "
        out.extend(_node_lines(node, width, first=prefix + (GUIDE_LAST if last else GUIDE_MID), rest=under))
        stack.extend((c, child_prefix, i == len(node.children) - 1)
                     for i, c in reversed(list(enumerate(node.children))))
    return out


def _node_lines(node: Node, width: int | None, *, first: str, rest: str) -> list[Text]:
    lines = wrap(node.label, width, first=first, rest=rest)
    for more in node.more:
        lines.extend(wrap(more, width, first=rest, rest=rest))
    return lines


@dataclass(frozen=True)
class Column:
    """A table column: its header, right-aligned or not, and (the last column only) whether its
    text may wrap between words inside the column when the table is too wide."""

    header: str
    right: bool = False
    wrap: bool = False


def table(columns: Sequence[Column], rows: Sequence[Sequence[Piece]], width: int | None, *,
          details: Sequence[Sequence[Sequence[Piece]]] | None = None, header: bool = True,
          indent: int = 0, gap: int = 2) -> list[Text]:
    """Rows in aligned columns (each cell whole), each row followed by its ``details``: lines of
    pieces on their own, indented under the row. When the columns do not fit in ``width``,
    a last column marked ``wrap`` wraps inside itself if its longest word fits; else
    each row becomes its first cell on a line, the other cells (named after their column
    when there is a header) wrapped below it."""
    cells = [[_text(c) for c in row] for row in rows]
    sizes = [max([len(col.header) if header else 0] + [row[i].cell_len for row in cells])
             for i, col in enumerate(columns)]
    total = indent + sum(sizes) + gap * (len(sizes) - 1)
    more = details or [() for _ in cells]
    pad = " " * (indent + 4)
    wrapped = False
    if width is not None and total > width and columns[-1].wrap:
        start = total - sizes[-1]  # where the last column starts
        longest = max([len(columns[-1].header) if header else 0]
                      + [w.cell_len for row in cells for w in prose(row[-1])])
        if start + longest <= width:
            sizes[-1], total, wrapped = width - start, width, True
    if width is not None and total > width:
        return _stacked(columns if header else [Column("") for _ in columns], cells, more, width, indent=indent)
    lines: list[Text] = []
    if header:
        lines.append(_row([Text(c.header, style="bold") for c in columns], columns, sizes, indent, gap))
        rule = Text(" " * indent + (" " * gap).join(("─" if c.header else " ") * s for c, s in zip(columns, sizes,
                                                                                                   strict=True)),
                    style="dim")
        rule.rstrip()
        lines.append(rule)
    for row, extra in zip(cells, more, strict=True):
        if wrapped:
            head = _row(row[:-1], columns[:-1], sizes[:-1], indent, gap)
            head.append(" " * (total - sizes[-1] - head.cell_len))
            lines += wrap(prose(row[-1]), width, first=head)
        else:
            lines.append(_row(row, columns, sizes, indent, gap))
        for pieces in extra:
            lines.extend(wrap(pieces, width, first=pad))
    return lines


def _row(row: Sequence[Text], columns: Sequence[Column], sizes: Sequence[int], indent: int, gap: int) -> Text:
    line = Text(" " * indent)
    for i, (cell, col, size) in enumerate(zip(row, columns, sizes, strict=True)):
        fill = " " * (size - cell.cell_len)
        if i:
            line.append(" " * gap)
        if col.right:
            line.append(fill)
        line.append_text(cell)
        if not col.right:
            line.append(fill)
    line.rstrip()
    return line


def _stacked(columns: Sequence[Column], cells: Sequence[Sequence[Text]],
             more: Sequence[Sequence[Sequence[Piece]]], width: int, *, indent: int) -> list[Text]:
    lines: list[Text] = []
    pad = " " * (indent + 4)
    for row, extra in zip(cells, more, strict=True):
        lines.extend(wrap([row[0]], width, first=" " * indent))
        # a value wraps between its words, the column's name staying with its first ("size 16.5 MB")
        rest = [(col, c) for col, c in zip(columns[1:], row[1:], strict=True) if c.plain]
        values: list[Text] = []
        for i, (col, cell) in enumerate(rest):
            words = prose(cell)
            if col.header:  # the column's last word stays with the value's first: "size 16.5 MB"
                named = prose(col.header)
                words = [*named[:-1], Text.assemble(named[-1], " ", words[0]), *words[1:]]
            if i < len(rest) - 1:
                words[-1] = Text.assemble(words[-1], " ·")
            values += words
        if values:
            lines.extend(wrap(values, width, first=pad))
        for pieces in extra:
            lines.extend(wrap(pieces, width, first=pad))
    return lines
