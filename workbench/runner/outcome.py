"""How a headless run is going: which listeners opened, which sequences ended and how, and
so when the run is over and with what exit status."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.codec import decode_for_display, sanitize_text
from workbench.protocol import events as ev

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_BAD_FILE = 2
# What a failure shows of the bytes that arrived instead.
SHOWN_ARRIVED = 400


@dataclass
class Outcome:
    listeners: dict[str, str] = field(default_factory=dict)  # lid -> name, until it opens
    sequences: dict[str, str] = field(default_factory=dict)  # cid -> name, until it ends
    connections: set[str] = field(default_factory=set)  # the file's, until they close
    sequenced: set[str] = field(default_factory=set)  # the file's connections with steps
    failures: list[str] = field(default_factory=list)  # in words, for stderr
    had_sequences: bool = False
    listened: bool = False  # the file has listeners: with no sequences, serve until a signal
    listener_failed: bool = False

    def apply(self, events: list[ev.Event]) -> None:
        for event in events:
            if isinstance(event, ev.ListenerOpened):
                self.listeners.pop(event.lid, None)
            elif isinstance(event, ev.ErrorReported) and event.source in self.listeners:
                # A listener of the file that could not open: the mock is not there.
                self.listeners.pop(event.source)
                self.listener_failed = True
                self.failures.append(sanitize_text(f"{event.source}: {event.message}"))
            elif isinstance(event, ev.SequenceEnded):
                self.sequences.pop(event.cid, None)
                if not event.passed:
                    self.failures.append(failure_text(event))
            elif isinstance(event, ev.ConnectionClosed):
                # A connection of the file that never opened (one with a sequence: the
                # sequence's failure says so).
                never_opened = event.bytes_in is None and event.error
                if never_opened and event.cid in self.connections - self.sequenced:
                    self.failures.append(sanitize_text(f"{event.cid}: {event.reason}"))
                self.connections.discard(event.cid)

    @property
    def listening(self) -> bool:
        """Every listener of the file has opened (or failed)."""
        return not self.listeners

    @property
    def over(self) -> bool:
        """Nothing more to wait for: a listener failed, or every sequence ended; with no
        sequences, every connection closed and no listener serves."""
        if self.listener_failed:
            return True
        if self.had_sequences:
            return not self.sequences
        return not self.listened and not self.connections

    def interrupted(self) -> None:
        """A signal ended the run: sequences still running did not pass."""
        for cid, name in self.sequences.items():
            self.failures.append(f"sequence {name} ({cid}) did not finish: interrupted")
        self.sequences.clear()

    @property
    def status(self) -> int:
        return EXIT_FAILED if self.failures else EXIT_PASSED


def failure_text(event: ev.SequenceEnded) -> str:
    """`sequence smtp (C2) failed at step 3/7: nothing matched ...`, and on the next line
    what arrived instead (sanitized: it is the peer's)."""
    head = f"sequence {event.name} ({event.cid}) failed at step {event.step}/{event.steps}"
    if event.message:
        head += f": {event.message}"
    arrived = event.arrived
    if not arrived:
        # What arrived matters where an expect failed; a refused connect has none to show.
        expected = event.message.startswith("nothing matched")
        return sanitize_text(head) + ("\n  arrived instead: nothing" if expected else "")
    shown = arrived[-SHOWN_ARRIVED:]
    cut = "..." if len(arrived) > len(shown) else ""
    what = f"{len(arrived):,} bytes: {cut}{decode_for_display(shown, 'utf-8')}"
    return f"{sanitize_text(head)}\n  arrived instead: {what}"
