"""A fixed-capacity ring with O(1) append and O(1) indexing (a deque indexes in O(n))."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Ring(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: list[T] = []
        self._start = 0
        # How many items fell off the front since creation: absolute index = dropped + i.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def append(self, item: T) -> None:
        if len(self._items) < self.capacity:
            self._items.append(item)
            return
        self._items[self._start] = item
        self._start = (self._start + 1) % self.capacity
        self.dropped += 1

    def __getitem__(self, index: int) -> T:
        size = len(self._items)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return self._items[(self._start + index) % self.capacity]

    def clear(self) -> None:
        self.dropped += len(self._items)
        self._items.clear()
        self._start = 0
