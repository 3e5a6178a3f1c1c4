"""A bounded window of recently seen ids, for dropping events delivered twice.

Dedupe is by identity within a window, never by a high-water mark: with a mark, one event
carrying a wrong id far ahead (a corrupt line, another stream's id) makes every later good
event look old. Here a wrong id costs only itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class RecentIds:
    """The last `size` ids seen; `add` says whether an id is new."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the window must hold at least one id")
        self._order: deque[Hashable] = deque()
        self._seen: set[Hashable] = set()
        self._size = size

    def add(self, item: Hashable) -> bool:
        """Remember `item`; True if it was not in the window."""
        if item in self._seen:
            return False
        self._seen.add(item)
        self._order.append(item)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True

    def __len__(self) -> int:
        return len(self._order)
