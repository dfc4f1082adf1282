"""A message rule's reply made one message of its framing (`on = "message"`, without
`reply_raw`): the framing's own `encode` (a length prefix, a netstring's digits and comma,
the delimiter), but for one case where `encode` sends what a client sends: a RESP reply.

RESP's `encode` makes text that is not RESP already a command (an array of bulk strings),
which is right for a client and wrong for a server. So a listener's RESP reply that does not
start with a type byte and end with CRLF goes as one bulk string (`$2\\r\\nOK\\r\\n`: redis-cli
shows `"OK"`); one that does (`+OK\\r\\n`, `:1\\r\\n`) goes as it is. A connection of the
user's (a client) sends the command, as the composer does.

An HTTP reply written with a body and without Content-Length (or Transfer-Encoding) gets a
Content-Length that counts its body as the template filled it in (`hello {name}`): a
response whose length depends on a capture cannot be counted by hand.
"""

from __future__ import annotations

from workbench.framing.http1 import with_content_length
from workbench.framing.messages import FramingSpec, encode
from workbench.framing.resp import TYPE_BYTES


def framed_reply(spec: FramingSpec, reply: bytes, server: bool) -> bytes:
    """`reply` as one message of `spec`; `server`: it answers a listener's peer.
    FramingError, in words, when the framing cannot carry it (past a max, a delimiter
    inside)."""
    if spec.name == "resp" and server and not is_resp(reply):
        return b"$%d\r\n%s\r\n" % (len(reply), reply)
    if spec.name == "http":
        reply = with_content_length(reply)
    return encode(spec, reply)


def is_resp(data: bytes) -> bool:
    """Whether `data` looks like RESP already (resp.encode sends such a payload as it is)."""
    return bool(data) and data[0] in TYPE_BYTES and data.endswith(b"\r\n")
