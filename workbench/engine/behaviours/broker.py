"""Broker and chat: a listener's peers talk to each other through it, and the user with them.

What one peer sends goes to all the listener's other peers (not back to it), as `ncat
--broker` relays; what the user sends to one of them goes to all the others as well, so the
operator takes part (which ncat cannot). `chat=1` relays whole lines, each prefixed with its
sender (`<C3> `), its control bytes escaped as ncat's `--chat` escapes them (`\\033`), and
tells everyone who joins and leaves.

The peers of one listener share a `Room`, held by the listener's factory. A peer that leaves
`RELAY_LIMIT` bytes unread in sockbench is cut off (the engine carries out `Relay`), so one
stuck peer cannot make sockbench hold without bound, nor hold the others back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.codec import sanitize_text
from workbench.engine.behaviours.base import (
    NOTHING,
    Action,
    Behaviour,
    BehaviourFactory,
    Context,
    Relay,
    Send,
)
from workbench.protocol.enums import Origin, OriginName, origin_of
from workbench.protocol.options import SocketOptions

RELAY_LIMIT = 4 * 1024 * 1024
# A chat line longer than this is relayed in pieces, each a line of its own.
MAX_CHAT_LINE = 16 * 1024
# The name the user's sends carry in a chat (`<you> `) and in origins (`broker you`).
YOU = "you"


def cut_off_reason(kind: Origin) -> str:
    return f"cut off: {RELAY_LIMIT // (1024 * 1024)} MiB waiting that it did not read ({kind})"


class Room:
    """The peers of one broker listener, in the order they joined (cid: address)."""

    def __init__(self, kind: Origin) -> None:
        self.kind = kind
        self.members: dict[str, str] = {}
        self.reason = cut_off_reason(kind)
        self.open = True

    def join(self, ctx: Context) -> None:
        if self.open:
            self.members[ctx.cid] = ctx.remote

    def leave(self, cid: str) -> None:
        self.members.pop(cid, None)

    def to_others(self, sender: str, data: bytes, origin: OriginName) -> list[Action]:
        """`data` for every member but `sender` (the user: every member but the one it was
        sent to)."""
        return [
            Relay(cid, data, origin, RELAY_LIMIT, self.reason)
            for cid in self.members
            if cid != sender
        ]

    def close(self) -> None:
        """The listener closed: its peers left open are no longer relayed to each other."""
        self.open = False
        self.members.clear()


class Broker:
    """One peer of a broker listener: what it sends goes to the others as it comes."""

    origin = Origin.BROKER

    def __init__(self, room: Room) -> None:
        self.room = room

    def on_open(self, ctx: Context) -> Sequence[Action]:
        self.room.join(ctx)
        return NOTHING

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return self.room.to_others(ctx.cid, data, origin_of(Origin.BROKER, ctx.cid))

    def on_user_send(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return self.room.to_others(ctx.cid, data, origin_of(Origin.BROKER, YOU))

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        return NOTHING

    def on_close(self, ctx: Context) -> Sequence[Action] | None:
        self.room.leave(ctx.cid)
        return None


# What a chat line may not carry to other peers' terminals, as ncat escapes it: C0 controls
# but the tab, and DEL; beyond ASCII, what sockbench's own screen never shows as it is (C1
# controls, bidi and other format characters, line separators, bytes that are not UTF-8).
# ncat escapes every byte above 0x7e; UTF-8 text is left readable here.
_NOT_PLAIN = re.compile("[^\t\x20-\x7e]")


def _octal(match: re.Match[str]) -> str:
    character = match.group()
    if character > "\x7f" and sanitize_text(character) == character:
        return character
    return "".join(f"\\{byte:03o}" for byte in character.encode("utf-8", "surrogateescape"))


def escaped(line: bytes) -> bytes:
    """`line` with its control bytes written as ncat's chat writes them (ESC: `\\033`)."""
    text = line.decode("utf-8", "surrogateescape")
    return _NOT_PLAIN.sub(_octal, text).encode("utf-8")


class Lines:
    """One sender's chat lines: whole lines out, the rest kept until its end comes."""

    def __init__(self) -> None:
        self.pending = b""

    def add(self, data: bytes) -> list[bytes]:
        """The whole lines `data` completes (each with its CRLF or LF)."""
        *whole, self.pending = (self.pending + data).split(b"\n")
        lines = [line + b"\n" for line in whole]
        pending, size = self.pending, MAX_CHAT_LINE
        if len(pending) > size:  # in pieces, the last one left to grow
            cut = (len(pending) - 1) // size * size
            lines += [pending[at : at + size] + b"\n" for at in range(0, cut, size)]
            self.pending = pending[cut:]
        return lines

    def rest(self) -> list[bytes]:
        """What is left when the sender goes: a line of its own."""
        rest, self.pending = self.pending, b""
        return [rest + b"\n"] if rest else []


def chat_line(name: str, line: bytes) -> bytes:
    """`<name> line`, controls escaped; a line keeps its own ending (LF or CRLF)."""
    body, end = (line[:-2], b"\r\n") if line.endswith(b"\r\n") else (line[:-1], b"\n")
    return b"<%s> %s%s" % (name.encode(), escaped(body), end)


def announce(text: str) -> bytes:
    return f"<announce> {text}\n".encode()


class Chat:
    """One peer of a chat listener: its lines go to the others as `<C3> line`."""

    origin = Origin.CHAT

    def __init__(self, room: Room, yours: Lines) -> None:
        self.room = room
        self.lines = Lines()
        self.yours = yours  # the user's lines, shared by the room's peers

    def _relay(self, name: str, lines: list[bytes], to_all_but: str) -> list[Action]:
        data = b"".join(chat_line(name, line) for line in lines)
        return self.room.to_others(to_all_but, data, origin_of(Origin.CHAT, name)) if data else []

    def on_open(self, ctx: Context) -> Sequence[Action]:
        others = [f"{remote} as <{cid}>" for cid, remote in self.room.members.items()]
        self.room.join(ctx)
        joined = announce(f"{ctx.remote} is connected as <{ctx.cid}>.")
        already = announce(f"already connected: {', '.join(others) or 'nobody'}.")
        return [
            Send(joined + already, Origin.CHAT),
            *self.room.to_others(ctx.cid, joined, Origin.CHAT),
        ]

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return self._relay(ctx.cid, self.lines.add(data), ctx.cid)

    def on_user_send(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return self._relay(YOU, self.yours.add(data), ctx.cid)

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        return self._relay(ctx.cid, self.lines.rest(), ctx.cid)

    def on_close(self, ctx: Context) -> Sequence[Action] | None:
        if ctx.cid not in self.room.members:
            return None  # the room closed with its listener
        self.room.leave(ctx.cid)
        left = announce(f"<{ctx.cid}> is disconnected.")
        return [
            *self._relay(ctx.cid, self.lines.rest(), ctx.cid),
            *self.room.to_others(ctx.cid, left, Origin.CHAT),
        ]


class BrokerFactory:
    """Makes the Broker (or Chat) of each of a listener's peers, all in one room."""

    def __init__(self, chat: bool) -> None:
        self.chat = chat
        self.room = Room(Origin.CHAT if chat else Origin.BROKER)
        self.yours = Lines()

    def __call__(self) -> Behaviour:
        return Chat(self.room, self.yours) if self.chat else Broker(self.room)

    def close(self) -> None:
        self.room.close()


def broker_note(chat: bool) -> str:
    limit = f"a peer that leaves {RELAY_LIMIT // (1024 * 1024)} MiB unread is cut off"
    if chat:
        return (
            "chat: each peer's lines go to the others as '<C3> line' (controls escaped), "
            f"yours as '<you> line'; joins and leaves announced; {limit}"
        )
    return f"broker: what each peer sends goes to all the others, and what you send to one; {limit}"


def note_of(options: SocketOptions) -> str:
    return broker_note(options.chat)


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return BrokerFactory(options.chat)
