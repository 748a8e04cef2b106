"""Text for the terminal: user data made safe to print, display widths, aligned tables and help.

Everything the command line shows goes through `say`, which escapes control characters
(``\\x1b[2J``, OSC 8 links, OSC 52 clipboard writes, a bare ``\\r``...) so data can never drive the
terminal. Files written by ``export`` are data, not display, and never pass through here.

Widths are terminal columns, not code points: 👍 and 日 take two, a combining accent none, so
tables line up whatever the cells hold.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import IO, Any

__all__ = ["HelpFormatter", "definitions", "display_width", "escape", "say", "table", "warn", "wrap"]

#: Bidirectional embeddings, overrides and isolates: they reorder what is shown ("Trojan Source").
_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(ch: str) -> str:
    cp = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if 0xDC80 <= cp <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{cp - 0xDC00:02x}"
    return f"\\u{cp:04x}"


def _unsafe(ch: str) -> bool:
    cp = ord(ch)
    return (
        cp < 0x20
        or 0x7F <= cp <= 0x9F  # DEL and the C1 controls (0x9B is a one-byte CSI)
        or cp in _BIDI
        or 0xD800 <= cp <= 0xDFFF  # lone surrogates cannot be encoded
    )


def escape(text: Any, *, newlines: bool = True) -> str:
    """``text`` with every character that could drive a terminal shown escaped, e.g. ``\\x1b``.

    Newlines are kept when ``newlines`` is True (multi-line messages), escaped otherwise (table
    cells); tabs and carriage returns are always escaped.

    Examples
    --------
    >>> escape("bad\\x1b[2Jnews\\tok\\nnext")
    'bad\\\\x1b[2Jnews\\\\tok\\nnext'
    >>> escape("a\\nb", newlines=False)
    'a\\\\nb'
    """
    text = str(text)
    if not any(_unsafe(ch) for ch in text):
        return text
    return "".join(
        ch if not _unsafe(ch) or (newlines and ch == "\n") else _escaped(ch) for ch in text
    )


def _is_regional_indicator(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def display_width(text: str) -> int:
    """How many terminal columns ``text`` takes (after `escape`: it has no control characters).

    Wide and fullwidth characters (CJK, most emoji) take two columns; combining marks, zero-width
    characters, variation selectors and the parts of an emoji sequence joined by U+200D take none;
    U+FE0F makes the character before it a two-column emoji; a pair of regional indicators (a
    flag) takes two.

    Examples
    --------
    >>> display_width("👍"), display_width("日本"), display_width("e\\u0301"), display_width("ok")
    (2, 4, 1, 2)
    """
    width = 0
    last = 0  # the width of the last character that took space
    joined = False  # the previous character was U+200D ZERO WIDTH JOINER
    flag_open = False  # a regional indicator waiting for its pair
    for ch in text:
        cp = ord(ch)
        if cp == 0xFE0F:  # emoji presentation: a one-column symbol (❤, ☺, a keycap digit) becomes two
            if last == 1:
                width += 1
                last = 2
            continue
        if cp == 0x200D:
            joined = True
            continue
        category = unicodedata.category(ch)
        if (
            (category in ("Mn", "Me", "Cf", "Cc") and cp != 0xAD)  # a soft hyphen shows as "-"
            or unicodedata.combining(ch)
            or 0xFE00 <= cp <= 0xFE0E
            or 0xE0100 <= cp <= 0xE01EF  # variation selectors
            or 0x1160 <= cp <= 0x11FF  # Hangul medial vowels and final consonants
            or (0x1F3FB <= cp <= 0x1F3FF and last == 2)  # skin tone on the emoji before it
        ):
            continue
        if joined and last == 2:  # the next part of a ZWJ emoji sequence (👩‍💻): one glyph
            joined = False
            continue
        joined = False
        if _is_regional_indicator(cp):
            if flag_open:
                flag_open = False
                continue
            flag_open = True
            width += 2
            last = 2
            continue
        flag_open = False
        last = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        width += last
    return width


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(width - display_width(text), 0)
    return space + text if right else text + space


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned table: the first column left-aligned, the others (counts) right-aligned.

    Cells are escaped (newlines too) and measured in terminal columns.

    Examples
    --------
    >>> print(table("by label", ["label", "logs"], [("👍", 12), ("ok", 3)]))
    by label
      label  logs
      -----  ----
      👍       12
      ok        3
    """
    cells = [[escape("(none)" if v is None else v, newlines=False) for v in row] for row in rows]
    widths = [
        max([display_width(h)] + [display_width(r[k]) for r in cells]) for k, h in enumerate(header)
    ]

    def line(values: Sequence[str]) -> str:
        first = _pad(values[0], widths[0])
        rest = [_pad(v, w, right=True) for v, w in zip(values[1:], widths[1:], strict=False)]
        return "  ".join([first, *rest]).rstrip()

    body = [line(header), line(["-" * w for w in widths])] + [line(r) for r in cells]
    if not rows:
        body.append("(nothing yet)")
    return f"{title}\n" + "\n".join("  " + b for b in body)


def wrap(text: str, width: int, *, indent: str = "", first: str | None = None) -> list[str]:
    """Words of ``text`` filled into lines of at most ``width`` columns (a longer word stands alone).

    Examples
    --------
    >>> wrap("👍 rows and 👎 rows", 10)
    ['👍 rows', 'and 👎', 'rows']
    """
    lines: list[str] = []
    current = first if first is not None else indent
    empty = True
    for word in text.split():
        candidate = current + ("" if empty else " ") + word
        if not empty and display_width(candidate) > width:
            lines.append(current)
            current = indent + word
        else:
            current = candidate
        empty = False
    lines.append(current)
    return [line.rstrip() for line in lines]


def _columns() -> int:
    return max(shutil.get_terminal_size().columns - 2, 40)


def definitions(items: Iterable[tuple[str, str]], *, indent: int = 2) -> str:
    """``name  explanation`` lines, explanations aligned and wrapped to the terminal's width."""
    pairs = list(items)
    name_width = max(display_width(name) for name, _ in pairs)
    hang = " " * (indent + name_width + 2)
    out: list[str] = []
    for name, text in pairs:
        head = " " * indent + _pad(name, name_width) + "  "
        out += wrap(text, _columns(), indent=hang, first=head)
    return "\n".join(out)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help wrapped by terminal columns (emoji count as two).

    In descriptions, lines that start with a space are kept as they are (lists made by
    `definitions`); the other lines are paragraphs, filled to the terminal's width.
    """

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                out.extend(wrap(" ".join(paragraph), width, indent=indent))
                paragraph.clear()

        for line in text.splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif line[0].isspace():
                flush()
                out.append(indent + line)
            else:
                paragraph.append(line)
        flush()
        return "\n".join(out)


def say(text: Any = "", *, file: IO[str] | None = None) -> None:
    """Print ``text`` for a person (stdout unless ``file``), control characters escaped."""
    stream = sys.stdout if file is None else file
    print(escape(text), file=stream, flush=True)


def warn(text: Any) -> None:
    """`say` on stderr."""
    say(text, file=sys.stderr)
