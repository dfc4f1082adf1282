"""A connection's traffic over the last minute, for its rate and sparkline."""

from __future__ import annotations

RATE_WINDOW_SECONDS = 60


class RateHistory:
    """Bytes per second over the last minute, in and out: for the current rate and a
    sparkline. One bucket per whole second, so memory is fixed per connection."""

    __slots__ = ("_buckets", "_last_second")

    def __init__(self) -> None:
        # One flat list, in and out side by side (2 * second + outgoing): a list of pairs
        # cost 95 us per connection to make, which 5,000 accepted connections felt.
        self._buckets = [0] * (2 * RATE_WINDOW_SECONDS)
        self._last_second = 0

    def add(self, ts: float, size: int, outgoing: bool) -> None:
        second = int(ts)
        if second > self._last_second:
            self._advance(second)
        if second > self._last_second - RATE_WINDOW_SECONDS:
            self._buckets[2 * (second % RATE_WINDOW_SECONDS) + outgoing] += size

    def _advance(self, second: int) -> None:
        if second <= self._last_second:
            return
        # Zero the buckets of the seconds that passed without traffic.
        for skipped in range(
            max(self._last_second + 1, second - RATE_WINDOW_SECONDS + 1), second + 1
        ):
            index = 2 * (skipped % RATE_WINDOW_SECONDS)
            self._buckets[index] = self._buckets[index + 1] = 0
        self._last_second = second

    def series(self, now: float, outgoing: bool | None = None) -> list[int]:
        """Bytes per second, oldest first, ending with the last whole second before `now`."""
        self._advance(int(now))
        end = int(now)
        values = []
        for second in range(end - RATE_WINDOW_SECONDS + 1, end + 1):
            if not self._last_second - RATE_WINDOW_SECONDS < second <= self._last_second:
                values.append(0)  # outside what the buckets hold (a clock set back)
                continue
            index = 2 * (second % RATE_WINDOW_SECONDS)
            if outgoing is None:
                values.append(self._buckets[index] + self._buckets[index + 1])
            else:
                values.append(self._buckets[index + outgoing])
        return values

    def rate(self, now: float, outgoing: bool) -> int:
        """Bytes in the last whole second."""
        return self.series(now, outgoing)[-2]

    def last_second(self, now: float) -> int:
        """Bytes both ways in the last whole second (`rate` in and out), without making the
        minute's series: every row of the Connections table asks."""
        second = int(now) - 1
        if not self._last_second - RATE_WINDOW_SECONDS < second <= self._last_second:
            return 0  # nothing since, or outside what the buckets hold
        index = 2 * (second % RATE_WINDOW_SECONDS)
        return self._buckets[index] + self._buckets[index + 1]
