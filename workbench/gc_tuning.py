"""Garbage collector settings for a long-running app that holds many small objects.

The Log holds up to 100,000 records and their rows. With CPython's default thresholds the
cyclic collector ran often and, every so often, walked every object the process holds
(Textual's and the Log's alike): under a flood that halved the records shown per second.
Records and rows form no cycles (reference counting frees them), so the older generations
can be looked at rarely. The young one cannot: Textual's strips cache themselves, so every
frame leaves cyclic garbage, and collecting 50,000 young objects at a time paused the UI for
65-96 ms (measured with gc.callbacks); 10,000 at a time takes 6-13 ms.

Under a flood that is not enough: CPython counts allocations minus deallocations, and the
Log frees an old record for each new one, so the count stays low while the young generation
fills with new records; a collection then came once a second and walked 100,000 of them
(gen0 pauses up to 42 ms, gen1 up to 59 ms: the key-to-screen tail). So the UI collects the
young generation itself between slices of engine events (`collect_young`): short pauses
(about 1 ms), at moments no key or frame is waiting.

Start-up makes almost no garbage, but with the collector on, importing Textual (a growing
heap of classes and functions) set off collections that walked it again and again: about a
quarter of the time to the first screen. So the collector is off until the first screen is
drawn (`pause_until_first_screen`), then tuned (`tune_for_long_run`).
"""

from __future__ import annotations

import gc

# Young objects before a collection (default 700), and how rarely the older generations are
# looked at (defaults 10 and 10).
THRESHOLDS = (10_000, 10, 100)


def pause_until_first_screen() -> None:
    """No collections while the app imports and draws its first screen; tune_for_long_run
    turns them on again."""
    gc.disable()


def tune_for_long_run() -> None:
    """Call once everything is imported and the first screen drawn: what exists then lives
    as long as the process, so it is moved out of the collector's sight (gc.freeze), and
    collections become rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    gc.enable()


def collect_young() -> None:
    """A collection of the young generation now, and of the older ones as often as the
    thresholds say (the collector's own counts: young collections since the last middle
    one, middle ones since the last full one)."""
    _, young_collections, middle_collections = gc.get_count()
    if middle_collections >= THRESHOLDS[2]:
        gc.collect(2)
    elif young_collections >= THRESHOLDS[1]:
        gc.collect(1)
    else:
        gc.collect(0)
