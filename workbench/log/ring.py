"""A bounded FIFO ring: the Log's records and rows live in two of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Ring(Generic[T]):
    """A bounded FIFO with O(1) append, popleft and indexing (a deque indexes in O(n)).

    The backing list grows by doubling up to `capacity`, so a small log costs little.
    """

    __slots__ = ("_items", "_len", "_start", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._items: list[T | None] = []
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, item: T) -> T | None:
        """Add `item` at the end; when full, the oldest item is overwritten and returned."""
        items = self._items
        size = len(items)
        n = self._len
        if n == size:
            if size == self.capacity:
                old = items[self._start]
                items[self._start] = item
                self._start = (self._start + 1) % size
                return old
            # Grow by doubling (unrolled so the order is 0..n-1): amortised O(1).
            self._grow(size + 1)
            items = self._items
            size = len(items)
        items[(self._start + n) % size] = item
        self._len = n + 1
        return None

    def extend(self, new: list[T]) -> list[T]:
        """Append every item of `new`; returns the items overwritten (oldest first).

        When the ring is full (a flood's steady state) it is done with slices, not a
        Python step per item."""
        items = self._items
        size, k, n = len(items), len(new), self._len
        if not k:
            return []
        if n + k <= size:  # room in the backing list: nothing grows, nothing is overwritten
            at = (self._start + n) % size
            end = at + k
            if end <= size:
                items[at:end] = new
            else:
                items[at:] = new[: size - at]
                items[: end - size] = new[size - at :]
            self._len = n + k
            return []
        if n == size == self.capacity and k <= size:
            start = self._start
            end = start + k
            if end <= size:
                overwritten = items[start:end]
                items[start:end] = new
            else:
                first = size - start
                overwritten = items[start:] + items[: end - size]
                items[start:] = new[:first]
                items[: end - size] = new[first:]
            self._start = end % size
            return overwritten  # type: ignore[return-value]
        if n + k <= self.capacity:  # room once the backing list grows: grow it once
            self._grow(n + k)
            items = self._items
            items[n : n + k] = new
            self._len = n + k
            return []
        append = self.append
        return [old for old in map(append, new) if old is not None]

    def _grow(self, needed: int) -> None:
        """A backing list of at least `needed` places (doubling, up to `capacity`), with
        the items in order from place 0."""
        items, size, start = self._items, len(self._items), self._start
        grown = max(16, size)
        while grown < needed:
            grown *= 2
        grown = min(self.capacity, grown)
        self._items = items[start:] + items[:start] + [None] * (grown - size)
        self._start = 0

    def popleft(self) -> T:
        if not self._len:
            raise IndexError("pop from an empty ring")
        items = self._items
        item = items[self._start]
        items[self._start] = None  # let it be freed
        self._start = (self._start + 1) % len(items)
        self._len -= 1
        return item  # type: ignore[return-value]

    def popleft_many(self, count: int) -> None:
        """Forget the `count` oldest items (at most all of them)."""
        count = min(count, self._len)
        if not count:
            return
        items, size, start = self._items, len(self._items), self._start
        end = start + count
        if end <= size:
            items[start:end] = [None] * count
        else:
            items[start:] = [None] * (size - start)
            items[: end - size] = [None] * (end - size)
        self._start = end % size
        self._len -= count

    def _position(self, index: int) -> int:
        """Where item `index` (negative: from the end) sits in the backing list."""
        n = self._len
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return (self._start + index) % len(self._items)

    def __getitem__(self, index: int) -> T:
        return self._items[self._position(index)]  # type: ignore[return-value]

    def __setitem__(self, index: int, item: T) -> None:
        self._items[self._position(index)] = item

    def __iter__(self) -> Iterator[T]:
        items = self._items
        start, end = self._start, self._start + self._len
        if end <= len(items):
            yield from items[start:end]  # type: ignore[misc]
        else:
            yield from items[start:]  # type: ignore[misc]
            yield from items[: end - len(items)]  # type: ignore[misc]

    def slice(self, start: int, end: int) -> list[T]:
        """Items `start` to `end` (not included), as a list, without a step per item."""
        n = self._len
        start, end = max(0, start), min(n, end)
        if start >= end:
            return []
        items, size = self._items, len(self._items)
        first, last = (self._start + start) % size, (self._start + end) % size
        if first < last:
            return items[first:last]  # type: ignore[return-value]
        return items[first:] + items[:last]  # type: ignore[return-value]

    def clear(self) -> None:
        self._items = []
        self._start = 0
        self._len = 0
