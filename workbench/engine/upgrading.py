"""STARTTLS: upgrading an open plain stream connection to TLS in place, asked for by the
user (`StartTls`) or after a negotiator's plain-text exchange (`starttls=PROTO`)."""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

from workbench.engine.negotiation import Negotiation
from workbench.engine.offloop import run_blocking
from workbench.engine.stream import StreamConnection
from workbench.engine.tls_setup import client_setup, describe_handshake_failure, server_setup
from workbench.engine.traffic import Traffic
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import Origin
from workbench.tls import HANDSHAKE_SECONDS, TlsSetupError

if TYPE_CHECKING:
    from workbench.tls.contexts import ServerTls


class Upgrading(Traffic):
    def _start_tls(self, cid: str) -> None:
        conn = self.connections.get(cid)
        if not isinstance(conn, StreamConnection) or not conn.is_open:
            self._info(cid, f"cannot start TLS: {cid} is not an open stream connection")
        elif conn.ssl_object is not None or conn.upgrading:
            self._info(cid, f"cannot start TLS: {cid} is TLS already")
        else:
            self._begin_upgrade(conn)

    def _negotiation_for(self, conn: StreamConnection, proto: str, host: str) -> Negotiation:
        """The STARTTLS exchange of `proto` on `conn`: the client's side on a connection the
        user opened, the server's on a listener's peer."""
        from workbench.tls.starttls import negotiator  # loaded on first use

        role = "client" if conn.listener is None else "server"

        def send(data: bytes) -> None:
            self._send(conn.cid, data, Origin.STARTTLS)

        def ready(leftover: bytes) -> None:
            conn.negotiation = None
            if leftover:
                self._error(
                    conn.cid,
                    f"{len(leftover):,} bytes came after the peer's go-ahead and before the "
                    "TLS handshake: possible injection (CVE-2011-0411); they were dropped, "
                    "never read as TLS",
                )
            self._begin_upgrade(conn)

        def fail(reason: str) -> None:
            conn.negotiation = None
            conn.refuse(f"STARTTLS ({proto}) failed: {reason}")

        return Negotiation(negotiator(proto, role, host), send, ready, fail)

    def _begin_upgrade(self, conn: StreamConnection) -> None:
        # Nothing more is read as plain text: the peer's next bytes are its handshake's.
        assert conn.transport is not None
        conn.transport.pause_reading()
        conn.upgrading = True
        conn.negotiation = None  # asked for by the user in the middle of one: it is over
        self._in_background(self._upgrade(conn))

    async def _upgrade(self, conn: StreamConnection) -> None:
        server_side = conn.listener is not None
        endpoint = conn.endpoint
        assert endpoint is not None and conn.transport is not None
        loop = asyncio.get_running_loop()
        try:
            if server_side:
                tls = await self._listener_tls(conn.listener or "", endpoint)
                context, hostname = tls.context, None
            else:
                client = await run_blocking(client_setup, endpoint)
                context, hostname = client.context, client.server_hostname or None
                conn.tls_client, conn.tls_local = client, client.local
            if conn.closed:
                return
            transport = await loop.start_tls(
                conn.transport,
                conn,
                context,
                server_side=server_side,
                server_hostname=hostname,
                ssl_handshake_timeout=HANDSHAKE_SECONDS,
            )
        except (TlsSetupError, EndpointError) as exc:
            self._failed_upgrade(conn, f"cannot start TLS: {exc}")
            return
        except (OSError, ssl.SSLError) as exc:
            self._failed_upgrade(conn, describe_handshake_failure(exc))
            return
        conn.upgrading = False
        if transport is None or conn.closed:
            return
        conn.transport = transport
        conn.ssl_object = transport.get_extra_info("ssl_object")
        if self._report_handshake(conn):
            self._start_behaviour(conn)

    async def _listener_tls(self, lid: str, endpoint: Endpoint) -> ServerTls:
        """The listener's TLS setup, made once for all its peers."""
        listener = self.listeners.get(lid)
        if listener is not None and listener.tls is not None:
            return listener.tls
        tls = await run_blocking(server_setup, endpoint)
        if listener is not None:
            listener.tls = tls
        return tls

    def _failed_upgrade(self, conn: StreamConnection, reason: str) -> None:
        conn.upgrading = False
        conn.refuse(reason)
        # The transport under a failed handshake may be gone without a word to the
        # connection: its end is reported here (once: connection_lost says it only once).
        conn.connection_lost(None)
