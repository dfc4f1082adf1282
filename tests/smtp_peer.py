"""A scripted SMTP-like server for the sequence and runner tests: a plain socket server in a
thread (tests/peers.py's ThreadedServer)."""

from __future__ import annotations

import socket
from typing import Any

from peers import ThreadedServer

GREETING = b"220 mail.test ESMTP ready\r\n"


class SmtpLikeServer(ThreadedServer):
    """Greets with 220; answers HELO with 250, EHLO with a two-line 250 (nothing at all with
    `silent_after_ehlo`), QUIT with 221 (and closes), NOOP with nothing, DROP by closing at
    once, anything else with 500. `lines`: the lines it was sent."""

    def __init__(self, silent_after_ehlo: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.silent_after_ehlo = silent_after_ehlo
        self.lines: list[bytes] = []

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(GREETING)
        pending = b""
        while not self._stopping.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return
            pending += chunk
            while b"\r\n" in pending:
                line, pending = pending.split(b"\r\n", 1)
                self.lines.append(line)
                if not self.answer(conn, line):
                    return

    def answer(self, conn: socket.socket, line: bytes) -> bool:
        """Answer `line`; False once the connection is to close."""
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"HELO":
            conn.sendall(b"250 mail.test hello " + line[5:] + b"\r\n")
        elif verb == b"EHLO":
            if not self.silent_after_ehlo:
                conn.sendall(b"250-mail.test\r\n250 SIZE 1000\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return False
        elif verb == b"DROP":
            return False
        elif verb != b"NOOP":
            conn.sendall(b"500 unknown command\r\n")
        return True
