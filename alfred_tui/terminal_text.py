"""Text from servers, made safe for a terminal: no control character gets through.

A Redis key, a query in ``pg_stat_activity``, a log line or a Qdrant
collection name can hold anything, including escape sequences that clear
the screen, retitle the window (OSC 0), write the clipboard (OSC 52) or ask
the terminal to answer on stdin. Rich strips a few control characters
(bell, backspace, CR...) but not ESC, DEL or the 8-bit C1 controls, and
Textual writes what it is given.

Two ways, by where the text goes:

* :func:`printable` shows each control character as ``\\xNN`` (the operator
  sees that a key holds an ESC) for text placed in a table or a line;
* :func:`without_controls` drops them, for output already laid out (control
  characters take no cell, so dropping them keeps every column where it is).
  The UI's last line of defence (:mod:`alfred_tui.widgets.control_filter`) and
  the command line's consoles (:func:`alfred_tui.cli.common.stdout_console`)
  use it on every segment they write.
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, and the C1 controls (0x80-0x9F, e.g. 8-bit CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Every C0 (but newline: Rich writes line ends as text), DEL and C1 character.
_ANY_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with each control character (but tab and newline) shown as ``\\xNN``."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def without_controls(text: str) -> str:
    """``text`` with every control character but newline removed (they occupy no cell)."""
    return _ANY_CONTROL.sub("", text) if _ANY_CONTROL.search(text) else text
