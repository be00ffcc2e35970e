"""Paygate ``key=value`` parameters and the inner ``k=v&k=v`` text of Data.

See docs/paygate.md#envelope and docs/paygate.md#inner-text.

Keys are case-insensitive because clients disagree on spelling (``payID``, ``ReqID``/``ReqId``)
and the Alipay+ page says names are not case-sensitive. Duplicates resolve like PHP
``parse_str`` (last one wins) because that is what the PHP clients themselves expect.

The inner text is never percent-decoded: most clients send raw values, so decoding would corrupt
a literal ``%`` or ``+``; pretix's form-encoded values are decoded for display only (see
``validation``).

A value that contains a literal ``&`` cannot be split correctly. Instead of silently dropping
the piece after the ``&`` (or turning it into a bogus parameter), :func:`parse_inner` glues it
back onto the value before it, so the value reads as the shop meant it (``OrderDesc=Books & Co``)
and a validator can refuse it exactly as it would refuse the same value in a plain request. Each
such piece is also listed in :attr:`Fields.stray`.
"""

from __future__ import annotations

import re
from collections.abc import ItemsView, Iterable, Iterator, Mapping
from typing import TypeVar, overload

T = TypeVar("T")

# A real parameter name; anything else after an ``&`` is the tail of a value with a literal ``&``
# (``OrderDesc=Books & Co = cheap`` must not produce a parameter called " Co ").
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


class Fields(Mapping[str, str]):
    """Case-insensitive parameters; last duplicate wins, first-seen order, last spelling kept.

    ``received`` counts what arrived before duplicates were merged, stray pieces included, so
    that a cap on the number of parameters cannot be dodged by repeating one name.
    """

    __slots__ = ("_items", "received", "stray")

    def __init__(self, pairs: Iterable[tuple[str, str]] = (), *, stray: Iterable[str] = ()) -> None:
        items: dict[str, tuple[str, str]] = {}
        received = 0
        for key, value in pairs:
            # Re-assigning an existing dict key keeps its position: first-seen order.
            items[key.lower()] = (key, value)
            received += 1
        self._items = items
        self.stray: tuple[str, ...] = tuple(stray)
        self.received = received + len(self.stray)

    def __getitem__(self, key: str) -> str:
        if not isinstance(key, str):
            raise KeyError(key)
        return self._items[key.lower()][1]

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, /, default: str | T) -> str | T: ...
    def get(self, key: str, /, default: object = None) -> object:
        # Mapping.get goes through __getitem__ and an exception per miss: this runs per field.
        try:
            item = self._items.get(key.lower())
        except AttributeError:  # not a string: no such parameter
            return default
        return default if item is None else item[1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> ItemsView[str, str]:
        return _Items(self)


class _Items(ItemsView[str, str]):
    """The pairs as stored: Mapping's own view would look each key up again."""

    _mapping: Fields

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._items.values())


def parse_inner(text: str) -> Fields:
    """Split decrypted Data: ``&`` separates, empty segments are skipped, the first ``=`` splits.

    Leading ``&``, ``&&`` and a trailing ``&`` (bnl, celements) are therefore harmless. A segment
    that is not ``name=value`` is the tail of the previous value (see the module docstring); before
    the first pair it has no owner and is only kept in ``stray``.
    """
    pairs: list[tuple[str, str]] = []
    stray: list[str] = []
    for segment in text.split("&"):
        if not segment:
            continue
        key, separator, value = segment.partition("=")
        if separator and is_parameter_name(key):
            pairs.append((key, value))
            continue
        stray.append(segment)
        if pairs:
            owner, owned = pairs[-1]
            pairs[-1] = (owner, f"{owned}&{segment}")
    return Fields(pairs, stray=stray)


def is_parameter_name(key: str) -> bool:
    """Whether ``key`` can be a parameter name (letters, digits, ``_``, ``.``, ``-``)."""
    return bool(_NAME.fullmatch(key))


def format_inner(pairs: Iterable[tuple[str, str]]) -> str:
    """Join pairs as ``k=v&k=v`` without encoding, leaving out pairs whose value is empty.

    Empty values are dropped because pretix fails on them and the FATCHIP parsers warn on empty
    segments (docs/paygate.md#inner-text). Nothing is escaped: this writes what a raw client
    writes, so a caller building a result must make its values safe first (see ``response``).
    """
    return "&".join(f"{key}={value}" for key, value in pairs if value)
