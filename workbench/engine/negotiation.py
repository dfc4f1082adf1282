"""Driving a STARTTLS negotiator (`workbench.tls.starttls`, sans-IO) over a plain stream:
what it says goes to the peer, what the peer says goes to it, until it says go (the TLS
handshake starts) or fails (the connection closes, in its words)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from workbench.tls.starttls import Negotiator


class Negotiation(NamedTuple):
    negotiator: Negotiator
    send: Callable[[bytes], None]  # to the peer, in plain text
    ready: Callable[[bytes], None]  # start the handshake; the bytes that came after the go
    fail: Callable[[str], None]

    def begin(self) -> None:
        first = self.negotiator.start()
        if first:
            self.send(first)

    def feed(self, data: bytes) -> None:
        step = self.negotiator.feed(data)
        if step.send:
            self.send(step.send)
        if step.error:
            self.fail(step.error)
        elif step.ready:
            self.ready(step.leftover)
