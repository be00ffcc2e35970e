"""Numbers read from what a client sent: ASCII digits only, and few enough of them.

``str.isdigit`` admits superscripts and other scripts' digits that ``int`` refuses or reads
differently, and ``int`` refuses a string of more than 4,300 digits: either would turn bad
input into an unhandled ``ValueError`` (an HTTP 500) instead of a clear refusal.
"""

from __future__ import annotations

import re

_ASCII_DIGITS = re.compile(r"[0-9]+")


def ascii_number(text: str, *, max_digits: int) -> int | None:
    """The value of ``text`` when it is ASCII digits with at most ``max_digits`` significant
    ones (leading zeros do not count); None for anything else."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant or "0")
