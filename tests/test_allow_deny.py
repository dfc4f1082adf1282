"""`allow=` and `deny=` on listeners (ncat's --allow/--deny), against real clients on loopback:
127.0.0.1 and 127.0.0.2 are both this machine, so a client bound to 127.0.0.2 plays another
host. A refused stream peer is reset at once, a refused datagram source never becomes a peer;
each is counted, named in the Log once and recorded in the transcript."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from fault_helpers import endpoint, listen, transcript_records
from peers import Collector, recv_until_eof, requires_ipv6
from textual.pilot import Pilot
from textual.widgets import Input, Static
from ui_helpers import blocking, make_app, run_app, the_app, wait_listener_port, wait_log, wait_ui

from workbench.cli import flag_options, parse_command_line
from workbench.engine import Engine
from workbench.engine.listener import DENIAL_LINES, DENIAL_WINDOW_SECONDS, DenialLog, Say
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import format_sockname, with_defaults
from workbench.protocol.options import options_from
from workbench.protocol.peer_filter import PeerFilter, normalized
from workbench.ui.dialogs import ListenDialog

OTHER_HOST = "127.0.0.2"


def client_from(source: str, port: int, host: str = "127.0.0.1") -> socket.socket:
    """A client whose source address is `source` (another host, as the listener sees it),
    bound but not connected yet."""
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((source, 0))
    return sock


def opened_for(events: Collector, lid: str, client: socket.socket) -> str:
    """The id of the listener's connection (or datagram peer) for `client`."""
    me = f":{client.getsockname()[1]}"  # a dual-stack listener sees [::ffff:127.0.0.1]:port
    opened = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote.endswith(me)
    )
    return str(opened.cid)


def taken_from(events: Collector, lid: str, source: str, port: int) -> tuple[socket.socket, str]:
    """A client from `source` the listener took, and the listener's id for it."""
    client = client_from(source, port)
    client.connect(("127.0.0.1", port))
    return client, opened_for(events, lid, client)


def refused_from(source: str, port: int, host: str = "127.0.0.1") -> str:
    """Connect from `source`: the listener resets it at once, maybe before connect() returns
    (or closes it without a byte). Its address as the listener names it."""
    with client_from(source, port) as client:
        address = format_sockname(client.getsockname())
        try:
            client.connect((host, port))
            assert recv_until_eof(client) == b""
        except ConnectionResetError:
            pass
    return address


def denied_count(events: Collector, lid: str, count: int) -> None:
    events.wait_for(
        lambda e: isinstance(e, ev.ListenerRefused) and e.lid == lid and e.denied == count
    )


def notes(events: Collector, lid: str) -> list[str]:
    return [e.message for e in events.of(ev.Note) if e.source == lid]


# --- the lists: pure ---


def test_lists_are_kept_normalized() -> None:
    text = " 10.1.2.3/8, 192.168.1.5 ,[::1],2001:db8::/32,uid:1000, "
    assert normalized("allow", text) == "10.0.0.0/8,192.168.1.5,::1,2001:db8::/32,uid:1000"
    assert normalized("allow", "") is None


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("10.0.0.0/33", "allow: '10.0.0.0/33' is not an address or network"),
        ("localhost", "allow: 'localhost' is not an address or network"),
        ("10.0.0.1,300.1.1.1", "allow: '300.1.1.1' is not an address or network"),
        ("uid:me", "allow: 'uid:me' is not a user id"),
    ],
)
def test_a_bad_entry_is_quoted(typed: str, words: str) -> None:
    with pytest.raises(EndpointError, match=words):
        normalized("allow", typed)


def test_deny_wins_and_an_allow_list_refuses_the_rest() -> None:
    judge = PeerFilter("127.0.0.0/8", "127.0.0.2")
    assert judge.refuses_host("127.0.0.1") is None
    assert judge.refuses_host("127.0.0.2") == ("deny", "denied by deny=127.0.0.2")
    assert judge.refuses_host("10.0.0.1") == ("allow", "not in allow=127.0.0.0/8")
    assert judge.refuses_host("::1") == ("allow", "not in allow=127.0.0.0/8")


def test_ipv4_mapped_peers_and_entries_are_judged_as_ipv4() -> None:
    assert PeerFilter("10.0.0.0/8", None).refuses_host("::ffff:10.9.8.7") is None
    assert PeerFilter(None, "::ffff:10.0.0.0/104").refuses_host("10.1.1.1") == (
        "deny",
        "denied by deny=10.0.0.0/8",
    )
    assert PeerFilter("fe80::/10", None).refuses_host("fe80::1%lo") is None


def test_uids_judge_unix_peers_only() -> None:
    judge = PeerFilter("uid:1000", None)
    assert judge.refuses_host("10.0.0.1") is None, "no address entries: IP peers are taken"
    assert judge.refuses_uid(1000) is None
    assert judge.refuses_uid(0) == ("allow", "not in allow=uid:1000")
    assert judge.refuses_uid(None) == ("allow", "its uid is unknown: not in allow=uid:1000")
    assert PeerFilter(None, "uid:0").refuses_uid(0) == ("deny", "denied by deny=uid:0")
    assert not PeerFilter("10.0.0.0/8", None).judges_uids()


def test_the_log_names_each_host_once_and_a_flood_briefly() -> None:
    log = DenialLog()
    assert log.say("10.0.0.1", 0.0) is Say.NAME
    assert log.say("10.0.0.1", 0.1) is Say.NOTHING, "the same host again"
    said = [log.say(f"10.0.1.{n}", 1.0) for n in range(DENIAL_LINES + 3)]
    assert said.count(Say.NAME) == DENIAL_LINES - 1
    assert said.count(Say.HUSH) == 1
    assert log.say("10.0.2.1", 1.0 + DENIAL_WINDOW_SECONDS) is Say.NAME, "a new while"


# --- URLs and flags ---


def test_url_errors_quote_what_was_typed() -> None:
    with pytest.raises(EndpointError) as raised:
        endpoint("tcp://127.0.0.1:9700?allow=10.0.0.0/33", listen=True)
    assert str(raised.value) == (
        "'tcp://127.0.0.1:9700?allow=10.0.0.0/33': allow: '10.0.0.0/33' is not an address or "
        "network (say 10.0.0.0/8, 192.168.1.5, ::1 or uid:1000; names are not looked up)"
    )
    with pytest.raises(EndpointError, match="deny is for listeners"):
        endpoint("tcp://127.0.0.1:9700?deny=10.0.0.1")
    parsed = endpoint("udp://127.0.0.1:9700?allow=127.0.0.1,::1&deny=127.0.0.2/32", listen=True)
    assert parsed.options.allow == "127.0.0.1,::1"
    assert parsed.options.deny == "127.0.0.2"
    assert parsed.options.query() == "allow=127.0.0.1,::1&deny=127.0.0.2"


def test_flags_add_to_their_lists_and_refuse_bad_entries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse_command_line(["--allow", "10.0.0.1", "--allow", "10.1.0.0/16,::1", "-l", "9700"])
    assert flag_options(args).allow == "10.0.0.1,10.1.0.0/16,::1"
    with pytest.raises(SystemExit):
        parse_command_line(["--deny", "10.0.0.0/33", "-l", "9700"])
    assert "'10.0.0.0/33' is not an address or network" in capsys.readouterr().err


# --- TCP ---


def test_allow_takes_the_host_it_names_and_resets_others(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?allow=127.0.0.1")
    stranger_at = refused_from(OTHER_HOST, port)
    denied_count(events, lid, 1)
    assert f"{lid} refused {stranger_at}: not in allow=127.0.0.1" in notes(events, lid)
    friend, cid = taken_from(events, lid, "127.0.0.1", port)
    with friend:
        friend.sendall(b"hi")
        assert events.wait_received(cid, 2) == b"hi"
    assert [e.cid for e in events.of(ev.ConnectionOpened)] == [cid], "only the allowed one"
    engine.stop()
    (record,) = [r for r in transcript_records(transcript) if r["event"] == "refused"]
    assert record["conn"] == lid
    assert record["remote"] == stranger_at
    assert record["reason"] == "not in allow=127.0.0.1"
    assert record["by"] == "allow"


def test_deny_refuses_the_host_it_names(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?deny=127.0.0.2/32")
    taken_from(events, lid, "127.0.0.1", port)[0].close()
    for _ in range(3):
        refused_from(OTHER_HOST, port)
    denied_count(events, lid, 3)
    named = [n for n in notes(events, lid) if "refused" in n]
    assert len(named) == 1, "the Log names a refused host once"
    assert named[0].endswith(": denied by deny=127.0.0.2")
    assert not [e for e in events.of(ev.ListenerRefused) if e.refused], "not at its maximum"


def test_networks_and_deny_over_allow(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?allow=127.0.0.0/30&deny=127.0.0.3")
    (opened,) = events.of(ev.ListenerOpened)
    assert opened.notes == ("takes only allow=127.0.0.0/30", "refuses deny=127.0.0.3")
    taken_from(events, lid, "127.0.0.2", port)[0].close()
    refused_from("127.0.0.3", port)
    refused_from("127.0.0.4", port)
    denied_count(events, lid, 2)
    assert any(n.endswith(": denied by deny=127.0.0.3") for n in notes(events, lid))
    assert any(n.endswith(": not in allow=127.0.0.0/30") for n in notes(events, lid))


@requires_ipv6
def test_a_dual_stack_listener_judges_ipv4_clients_as_ipv4(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events, "tcp://[::]:0?allow=127.0.0.1")
    taken_from(events, lid, "127.0.0.1", port)[0].close()
    refused_from(OTHER_HOST, port)
    refused_from("::1", port, host="::1")
    denied_count(events, lid, 2)


# --- datagrams and Unix ---


def test_a_denied_udp_source_never_becomes_a_peer(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "udp://127.0.0.1:0?deny=127.0.0.2")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind((OTHER_HOST, 0))
        for n in range(5):
            stranger.sendto(b"knock %d" % n, ("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as friend:
            friend.bind(("127.0.0.1", 0))
            friend.sendto(b"hello", ("127.0.0.1", port))
            cid = opened_for(events, lid, friend)
            assert events.wait_received(cid, 5) == b"hello"
        denied_count(events, lid, 1)
        stranger_at = format_sockname(stranger.getsockname())
    assert len(events.of(ev.ConnectionOpened)) == 1, "only the allowed source is a peer"
    assert f"{lid} refused {stranger_at}: denied by deny=127.0.0.2" in notes(events, lid)
    engine.stop()
    refused = [r for r in transcript_records(transcript) if r["event"] == "refused"]
    assert [(r["remote"], r["reason"], r["by"]) for r in refused] == [
        (stranger_at, "denied by deny=127.0.0.2", "deny")
    ]
    received = [r for r in transcript_records(transcript) if r["event"] == "data"]
    assert [r["conn"] for r in received] == [cid], "no datagram of the denied source"


def test_a_refused_source_the_user_sends_to_is_heard(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "udp://127.0.0.1:0?deny=127.0.0.2")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind((OTHER_HOST, 0))
        stranger.sendto(b"knock", ("127.0.0.1", port))
        denied_count(events, lid, 1)
        engine.add_peer(lid, endpoint(f"udp://{OTHER_HOST}:{stranger.getsockname()[1]}"))
        cid = events.wait_for(lambda e: isinstance(e, ev.PeerResolved)).cid
        stranger.sendto(b"answer", ("127.0.0.1", port))
        assert events.wait_received(cid, 6) == b"answer", "you chose to talk to it"


def test_a_flood_of_sources_is_counted_and_named_briefly(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "udp://127.0.0.1:0?allow=127.0.0.1")
    sources = 12
    for n in range(1, sources + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind((f"127.0.1.{n}", 0))
            for _ in range(20):
                stranger.sendto(b"knock", ("127.0.0.1", port))
    denied_count(events, lid, sources)
    said = [n for n in notes(events, lid) if "refused" in n]
    assert len(said) == DENIAL_LINES + 1
    assert "more refused peers are counted in the Listeners pane" in said[-1]
    assert not events.of(ev.ConnectionOpened)


def unix_listener(engine: Engine, events: Collector, path: Path, **lists: str) -> str:
    lid = engine.listen(
        with_defaults(endpoint(f"unix://{path}", listen=True), options_from(lists), for_listen=True)
    )
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid


def unix_client(path: Path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect(str(path))
    return client


def test_unix_peers_are_judged_by_uid(engine: Engine, events: Collector, tmp_path: Path) -> None:
    me = os.getuid()
    allowed = unix_listener(engine, events, tmp_path / "a.sock", allow=f"uid:{me}")
    with unix_client(tmp_path / "a.sock"):
        events.wait_for(lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == allowed)
    denied = unix_listener(engine, events, tmp_path / "d.sock", deny=f"uid:{me}")
    with unix_client(tmp_path / "d.sock") as client:
        assert recv_until_eof(client) == b""
    denied_count(events, denied, 1)
    said = f"{denied} refused uid {me}: denied by deny=uid:{me}"
    assert said in notes(events, denied), "an unnamed client is told apart by its uid"
    addresses_only = unix_listener(engine, events, tmp_path / "i.sock", allow="10.0.0.1")
    (opened,) = [e for e in events.of(ev.ListenerOpened) if e.lid == addresses_only]
    assert opened.notes == ("allow= names no uids: it judges no peer here",)
    with unix_client(tmp_path / "i.sock"):
        events.wait_for(
            lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == addresses_only
        )


# --- what the user sees ---


def test_the_listeners_pane_and_the_log_show_refusals() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        for _ in range(2):
            await blocking(refused_from, OTHER_HOST, port)

        def label() -> str:
            return str(app.listeners_tree.root.children[0].label)

        await wait_ui(pilot, lambda: "2 denied" in label(), "the denied count")
        assert "(0 open, 2 denied by allow/deny)" in label()
        await wait_log(pilot, f"L1 refused {OTHER_HOST}:")
        await wait_log(pilot, "not in allow=127.0.0.1")
        assert not any("maximum" in str(n.message) for n in app._notifications)

    run_app(make_app(listen=["tcp://127.0.0.1:0?allow=127.0.0.1"]), scenario)


def test_the_listen_dialog_takes_lists_in_its_options_field() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        dialog = app.screen
        assert isinstance(dialog, ListenDialog)
        assert "allow=LIST" in str(dialog.query_one("#options", Input).tooltip)
        dialog.query_one("#address", Input).value = "127.0.0.1:0"
        options = dialog.query_one("#options", Input)
        options.value = "allow=127.0.0.1,10.0.0.0/33"
        options.focus()
        await pilot.press("enter")
        error = dialog.query_one("#error", Static)
        await wait_ui(pilot, lambda: error.display, "the error")
        assert "'10.0.0.0/33' is not an address or network" in str(error.render())
        options.value = "allow=127.0.0.1"
        await pilot.press("enter")
        await wait_listener_port(pilot)
        assert app.session.listeners["L1"].url == "tcp://127.0.0.1:0?allow=127.0.0.1"
        assert "takes only allow=127.0.0.1" in app.session.listeners["L1"].notes

    run_app(make_app(), scenario)
