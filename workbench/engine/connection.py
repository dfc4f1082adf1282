"""What the engine asks of any connection, stream or datagram peer alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from workbench.protocol.enums import CloseCause, Transport

if TYPE_CHECKING:
    from workbench.engine.behaviours import Behaviour, Context
    from workbench.engine.flow import ReadFlow


class NotSent(Exception):
    """Data that cannot be sent (nothing of it was); the message says why in plain words."""


class QueueFull(NotSent):
    """A stream's send queue is at its bound: the peer does not take what it is sent."""


class Connection(Protocol):
    """A stream connection or a datagram peer, as the engine drives it."""

    bytes_in: int
    bytes_out: int
    closed: bool  # the socket is gone (a datagram peer: forgotten, or its socket closed)
    behaviour: Behaviour | None  # what answers the peer on sockbench's behalf, if anything
    context: Context | None  # what its behaviour is told of it, once it was told anything

    @property
    def cid(self) -> str: ...
    @property
    def listener(self) -> str | None: ...
    @property
    def local(self) -> str: ...
    @property
    def remote(self) -> str: ...
    @property
    def transport_kind(self) -> Transport: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def has_stream(self) -> bool:
        """Whether it has a stream to end: EOF and reset apply to it."""

    @property
    def flow(self) -> ReadFlow:
        """Reading from this peer (a datagram peer shares its socket's)."""

    def send(self, data: bytes) -> None:
        """Hand `data` to the socket; NotSent (nothing sent) if it cannot go."""

    def close(self, reason: str | None = None, cause: CloseCause = CloseCause.YOU) -> None: ...
    def reset(self, reason: str = "reset by you", cause: CloseCause = CloseCause.YOU) -> None: ...
    def half_close(self) -> bool:
        """Send EOF; False if it was sent already."""

    def shut(self, reason: str, cause: CloseCause) -> None:
        """Close the socket under it: a stream's own, a datagram peer's shared one."""

    def abort(self) -> None:
        """Drop what is still queued and close now."""
