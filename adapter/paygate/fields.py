"""Paygate's ``key=value&…`` texts: case-insensitive keys, raw values (paygate.md §4.4, §4.5)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping


class Fields(Mapping[str, str]):
    """Case-insensitive parameters; the last duplicate wins, as with PHP ``parse_str``."""

    def __init__(
        self, pairs: Iterable[tuple[str, str]] = (), stray_after: frozenset[str] = frozenset()
    ) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for key, value in pairs:
            self._items[key.lower()] = (key, value)
        # Lower-case keys followed by a segment without '=': their value held a literal '&'.
        self.stray_after = stray_after

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Fields({sorted(self._items)!r})"  # keys only: values may be secret

    def has_stray_after(self, key: str) -> bool:
        return key.lower() in self.stray_after


def parse_inner(text: str) -> Fields:
    """Split on ``&``, skip empty segments, split on the first ``=``; no percent-decoding."""
    pairs: list[tuple[str, str]] = []
    stray_after: set[str] = set()
    for segment in text.split("&"):
        if not segment:
            continue
        key, sep, value = segment.partition("=")
        if sep and key:
            pairs.append((key, value))
        elif pairs:
            stray_after.add(pairs[-1][0].lower())
    return Fields(pairs, frozenset(stray_after))


def format_inner(pairs: Iterable[tuple[str, str]]) -> str:
    """``k=v&k=v`` without empty values, empty segments or a trailing ``&`` (§4.5, §15)."""
    return "&".join(f"{key}={value}" for key, value in pairs if value)
