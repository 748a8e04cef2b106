"""Text for the terminal: aligned tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["table"]


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("(none)" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[k]) for r in cells]) for k, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=False)]
        return "  ".join([first, *rest]).rstrip()

    body = [line(header), line(["-" * w for w in widths])] + [line(r) for r in cells]
    if not rows:
        body.append("(nothing yet)")
    return f"{title}\n" + "\n".join("  " + b for b in body)
