"""Changing a listener's behaviour while it runs (the Behaviour dialog's command): the open
connections and the new ones answer the new way at once, a greeting goes only to peers that
come after, and a behaviour the listener cannot take is refused in words."""

from __future__ import annotations

import socket
from pathlib import Path

from fault_helpers import accept, listen
from peers import Collector, recv_exactly

from workbench.protocol import events as ev
from workbench.protocol.enums import Origin
from workbench.protocol.options import options_from

WAIT = 10.0


def echoed(events: Collector, cid: str) -> bytes:
    return b"".join(e.data for e in events.data(cid, outgoing=True) if e.origin == Origin.ECHO)


def changed(events: Collector, lid: str, count: int) -> ev.BehaviourChanged:
    found = events.wait_until(
        lambda: [e for e in events.of(ev.BehaviourChanged) if e.lid == lid][count - 1 :]
    )
    return found[0]


def test_echo_turned_on_answers_the_open_connection_and_new_ones(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events)
    first, first_cid = accept(events, lid, port)
    with first:
        first.sendall(b"before")
        events.wait_received(first_cid, 6)
        engine.set_behaviour(lid, options_from({"echo": True}))
        change = changed(events, lid, 1)
        assert change.behaviour == "echo=1" and "echo=1" in change.url
        first.sendall(b"after")
        assert recv_exactly(first, 5) == b"after", "only what came after the change is echoed"
        second, _ = accept(events, lid, port)
        with second:
            second.sendall(b"new")
            assert recv_exactly(second, 3) == b"new"
        engine.set_behaviour(lid, options_from({}))
        assert changed(events, lid, 2).behaviour == ""
        first.sendall(b"quiet")
        events.wait_received(first_cid, 6 + 5 + 5)
        events.settle()
    assert echoed(events, first_cid) == b"after"


def test_a_greeting_turned_on_greets_only_peers_that_come_after(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events)
    before, _ = accept(events, lid, port)
    with before:
        engine.set_behaviour(lid, options_from({"greet": "hi\\n", "echo": True}))
        changed(events, lid, 1)
        after, _ = accept(events, lid, port)
        with after:
            assert recv_exactly(after, 3) == b"hi\n"
        before.sendall(b"x")
        assert recv_exactly(before, 1) == b"x", "echoed, not greeted first"


def test_a_behaviour_the_transport_does_not_take_is_refused_in_words(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "udp://127.0.0.1:0?echo=1")
    engine.set_behaviour(lid, options_from({"broker": True}))
    (error,) = events.wait_until(lambda: events.of(ev.ErrorReported))
    assert error.message == (
        f"cannot change the behaviour of {lid}: broker= is for TCP and Unix stream listeners, "
        "not UDP"
    )
    assert events.of(ev.BehaviourChanged) == []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(WAIT)
        client.sendto(b"still", ("127.0.0.1", port))
        assert client.recv(100) == b"still", "it echoes as before"


def test_rules_turned_on_answer_and_their_file_is_watched(make_engine, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nexact = "v"\nreply = "one\\n"\n')
    engine, events = make_engine()
    lid, port = listen(engine, events)
    client, _ = accept(events, lid, port)
    with client:
        engine.set_behaviour(lid, options_from({"rules": str(rules)}))
        changed(events, lid, 1)
        client.sendall(b"v\n")
        assert recv_exactly(client, 4) == b"one\n"
        rules.write_text(
            '[[rule]]\nexact = "v"\nreply = "two\\n"\n[[rule]]\nexact = "w"\nreply = "w"\n'
        )
        events.wait_until(
            lambda: any(
                "rules reloaded" in e.message for e in events.of(ev.Note) if e.source == lid
            )
        )
        client.sendall(b"v\n")
        assert recv_exactly(client, 4) == b"two\n", "the new behaviour's file is polled"
