"""A resolver that answers from a table, can change its answer per lookup, and counts lookups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from ipaddress import ip_address

from adapter.net.addresses import IPAddress
from adapter.net.errors import UnresolvedHost


class FakeResolver:
    """``answers[name]`` is always the answer; ``changing[name]`` gives its answers in turn.

    The last of the changing answers repeats. A name in neither table does not resolve.
    """

    def __init__(
        self,
        answers: Mapping[str, Sequence[str]],
        *,
        changing: Mapping[str, Sequence[Sequence[str]]] | None = None,
    ) -> None:
        self._turns = {name: [answer] for name, answer in answers.items()}
        self._turns.update({name: list(turns) for name, turns in (changing or {}).items()})
        self.lookups: Counter[str] = Counter()

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups[host] += 1
        turns = self._turns.get(host)
        if not turns:
            raise UnresolvedHost("has a host that does not resolve")
        answer = turns[min(self.lookups[host], len(turns)) - 1]
        return [ip_address(text) for text in answer]
