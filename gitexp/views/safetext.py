"""Text from experiments made safe to print on a terminal.

A pulled experiment is untrusted: its run.json and metrics.json may hold
escape sequences (``\\x1b]0;title\\x07`` retitles the window, ``\\x1b[2J``
clears the screen, ``\\x1b[31m`` colours the rest of the output, ``\\r`` writes
over a line already shown) in a metric name, the host, the command, a param.
Every text a view draws from experiment data goes through `visible`: control
characters (C0, DEL, C1, hence ESC) and the bidirectional overrides that
reorder what a line seems to say are shown as Python writes them (``\\x1b``,
``\\u202e``), so they are seen and never obeyed. JSON needs nothing: the
encoder writes them as ``\\u001b`` (``ensure_ascii``).
"""

from __future__ import annotations

C0 = range(0x00, 0x20)
C1 = range(0x7F, 0xA0)  # DEL and the 8-bit controls (0x9b is a CSI)
BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)

_TABLE = {c: ascii(chr(c))[1:-1] for c in (*C0, *C1, *BIDI)}
_LINES = {c: e for c, e in _TABLE.items() if chr(c) not in "\n\t"}


def visible(text: str, lines: bool = False) -> str:
    """``text`` with its control characters written out (``\\x1b``, ``\\n``);
    ``lines``: newlines and tabs are kept (a block of text shown as such)."""
    if text.isprintable():  # the common case, checked in C
        return text
    return text.translate(_LINES if lines else _TABLE)
