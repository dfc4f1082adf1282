"""`send-proxy=v1|v2`: an outgoing TCP connection sends a PROXY protocol header before
anything else, naming its own local address as the client and its remote as the server.

The socket is connected here and the header written on it before asyncio makes the
connection: so it goes before any byte of the connection's, and on tls:// before the TLS
handshake (as HAProxy's `send-proxy` does with `ssl`: the header is plain text, the server
reads it and then does TLS).
"""

from __future__ import annotations

import asyncio
import socket

from workbench.framing.proxy_header import build_v1, build_v2


def proxy_header_for(version: str, sock: socket.socket) -> bytes:
    """The header `version` ("v1" or "v2") names for connected `sock`."""
    local, remote = sock.getsockname(), sock.getpeername()
    source, destination = (local[0], local[1]), (remote[0], remote[1])
    return build_v1(source, destination) if version == "v1" else build_v2(source, destination)


async def connect_sending_header(host: str, port: int, version: str) -> tuple[socket.socket, bytes]:
    """A TCP socket connected to `host`:`port` (each address in turn, as create_connection
    tries them) that has sent its PROXY header; the header."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    failure: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            header = proxy_header_for(version, sock)
            await loop.sock_sendall(sock, header)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock, header
    raise failure or OSError(f"{host} has no address to connect to")
