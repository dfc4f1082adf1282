"""What the evidence forms read from their fields (workbench/ui/evidence_forms.py), without
the screen: the capture's default name, the fields' errors in words, and a recording's name
that survives a URL whatever it holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.protocol.endpoints import parse_url
from workbench.replay.script import Script, Sent, Side
from workbench.ui.evidence_forms import (
    FormError,
    ReplayMode,
    capture_name,
    read_export_fields,
    read_replay_fields,
    replay_endpoints,
)


@pytest.mark.parametrize(
    ("transcript", "capture"),
    [
        ("run.jsonl", "run.pcapng"),
        ("/tmp/a b/run.jsonl", "/tmp/a b/run.pcapng"),
        ("run", "run.pcapng"),
        ("dir.d/run", "dir.d/run.pcapng"),
        (".hidden", ".hidden.pcapng"),
        ("", ""),
    ],
)
def test_the_capture_is_named_after_the_transcript_beside_it(transcript: str, capture: str) -> None:
    assert capture_name(transcript) == capture


def test_the_export_fields_say_what_is_wrong() -> None:
    with pytest.raises(FormError, match=r"^Transcript: give a transcript file"):
        read_export_fields("  ", "", "", "")
    with pytest.raises(FormError, match="is the transcript itself"):
        read_export_fields("x.pcapng", "", "", "")  # the default name would be its own
    for session in ("0", "-1", "two", "1.5"):
        with pytest.raises(FormError, match=r"^Session: .* is not a session number"):
            read_export_fields("run.jsonl", "", session, "")
    with pytest.raises(FormError, match=r"^Connection: 'C1;rm' is not a connection id"):
        read_export_fields("run.jsonl", "", "", "C1;rm")
    request = read_export_fields(" run.jsonl ", "", " 2 ", "C1, C3 C1")
    assert (request.output, request.session, request.connections) == ("run.pcapng", 2, ("C1", "C3"))


# A file name with what URLs and FILE@N#CONN give meaning to. Not a line feed: the
# selection's pattern (workbench/replay/script.py) does not take one in a name yet.
NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/\n"), min_size=1
).map(lambda name: f"/tmp/{name}.jsonl")


@given(NAMES)
def test_a_recordings_name_survives_the_url_the_session_file_saves(name: str) -> None:
    scripts = (Script(2, "C3", "tcp", (Sent(Side.SERVER, b"hi\n"),)),)
    for mode in ReplayMode:
        address = "127.0.0.1:0" if mode is ReplayMode.SERVE else "127.0.0.1:7"
        request = read_replay_fields(f"{name}@2#C3", mode, address)
        (endpoint,) = replay_endpoints(request, scripts)
        again = parse_url(endpoint.url, for_listen=mode is ReplayMode.SERVE)
        assert again.options.replay == f"{name}@2#C3"


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("9000", "tcp://127.0.0.1:9000"),
        ("[::1]:9000", "tcp://[::1]:9000"),
        ("tls://example.net:443", "tls://example.net:443"),
        ("/tmp/mock.sock", "unix:///tmp/mock.sock"),
        ("unix:///tmp/mock.sock", "unix:///tmp/mock.sock"),
        ("@mock", "unix://@mock"),
    ],
)
def test_the_replay_address_is_what_the_dialogs_take_or_a_path(address: str, url: str) -> None:
    request = read_replay_fields("rec.jsonl", ReplayMode.AGAINST, address)
    assert request.endpoint.url == url
