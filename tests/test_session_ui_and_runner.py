"""One session file, opened on the screen (`sockbench --session`, through Pilot) and run
headless (`sockbench run`): the same Log rows, from the same session core. Real sockets: the
session's own echo listener, and a scripted SMTP-like server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from peers import free_port
from smtp_peer import SmtpLikeServer
from test_runner import RUN_TIMEOUT, SMTP_STEPS
from textual.pilot import Pilot
from ui_helpers import log_text, run_app, the_app, wait_ui

from workbench.engine import Engine, EventBridge
from workbench.session.startup import StartupAction
from workbench.session_file.loader import load_session
from workbench.ui.app import SockbenchApp

TIME = re.compile(r"^\d\d:\d\d:\d\d\.\d\d\d ")
# How connections end is not compared: the runner ends once the sequences have (and its quit
# closes what is left), while the screen goes on; the SMTP server's EOF after its 221 may come
# before or after the sequence's end.
ENDINGS = re.compile(r"peer sent EOF|closed|sockbench quit")


def session_file(path: Path, echo_port: int, smtp_port: int) -> Path:
    path.write_text(
        f'[[listen]]\nname = "echo"\nurl = "tcp://127.0.0.1:{echo_port}"\necho = true\n\n'
        f'[[connect]]\nname = "ping"\nurl = "tcp://127.0.0.1:{echo_port}"\n'
        "steps = [{ send = 'ping\\n' }, { expect = '^ping\\n' }, { delay_ms = 50 },"
        " { send = 'pong\\n' }, { expect = 'pong' }]\n\n"
        f'[[connect]]\nname = "smtp"\nurl = "tcp://127.0.0.1:{smtp_port}"\n'
        + SMTP_STEPS.format(ehlo_timeout=5)
    )
    return path


def comparable(rows: list[str], ports: set[int]) -> list[str]:
    """Rows without their times, and with the system's ephemeral ports (the connections'
    own ends) as PORT, sorted: two connections' rows interleave as the network pleases."""

    def port(match: re.Match[str]) -> str:
        return match.group(0) if int(match.group(1)) in ports else "127.0.0.1:PORT"

    return sorted(
        re.sub(r"127\.0\.0\.1:(\d+)", port, TIME.sub("", row))
        for row in rows
        if not ENDINGS.search(row)
    )


def test_the_screen_and_the_runner_show_the_same_log(tmp_path: Path) -> None:
    with SmtpLikeServer() as smtp:
        echo_port = free_port()
        path = session_file(tmp_path / "session.toml", echo_port, smtp.port)
        headless = subprocess.run(
            [sys.executable, "-m", "workbench", "run", str(path)],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        assert headless.returncode == 0, headless.stderr
        ran = headless.stdout.splitlines()

        spec = load_session(path)
        startup = [StartupAction("listen", s.endpoint) for s in spec.listeners]
        startup += [StartupAction("connect", s.endpoint, s.sequence) for s in spec.connections]
        bridge = EventBridge()
        engine = Engine(bridge)
        app = SockbenchApp(lambda: engine, bridge, startup)
        shown: list[str] = []

        async def scenario(pilot: Pilot[None]) -> None:
            await wait_ui(
                pilot,
                lambda: sum("passed" in row for row in log_text(the_app(pilot))) == 2,
                "both sequences passed",
            )
            shown.extend(log_text(the_app(pilot)))

        run_app(app, scenario)
    ports = {echo_port, smtp.port}
    assert comparable(shown, ports) == comparable(ran, ports)
    assert sum("sequence smtp passed" in row for row in shown) == 1
    assert sum("↺ echo: pong" in row for row in shown) == 1
