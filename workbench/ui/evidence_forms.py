"""What the "Export capture (pcapng)..." and "Replay a recording..." forms ask for, read
from their fields, and the work each does once asked (run off the UI thread by the dialogs,
workbench/ui/evidence_dialogs.py). Textual-free.

The export is `sockbench export TRANSCRIPT --pcapng FILE` (workbench/transcript/capture.py)
on the transcript this app records (flushed first, so that the capture has everything
recorded so far) or on another one. The replay opens a listener or connections whose
options say `replay=FILE@N#CONN` (workbench/engine/behaviours/replay.py), as the Listen and
Connect dialogs would: the form only checks first that the recording has something to play.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from workbench.codec import sanitize_text
from workbench.files import same_file
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import DEFAULT_HOST, Endpoint
from workbench.protocol.enums import Transport
from workbench.protocol.loose_address import parse_address
from workbench.replay.script import Script, Selection, SelectionError, parse_selection

CAPTURE_SUFFIX = ".pcapng"
NO_TRANSCRIPT = (
    "Transcript: give a transcript file. This app records none: start sockbench with "
    "--transcript FILE to record what it sees."
)
_IDS = re.compile(r"[\s,]+")


class FormError(ValueError):
    """A field that cannot be read, or work that cannot be done, in words for the user."""


# --- the export ---


@dataclass(frozen=True)
class ExportRequest:
    transcript: str  # as typed, ~ expanded
    output: str
    session: int | None  # None: the transcript's last session
    connections: tuple[str, ...]  # () : every connection


def capture_name(transcript: str) -> str:
    """The capture's default name: the transcript's, beside it, ending in .pcapng."""
    if not transcript:
        return ""
    stem, suffix = os.path.splitext(transcript)
    return (stem if suffix and stem else transcript) + CAPTURE_SUFFIX


def read_export_fields(transcript: str, output: str, session: str, conns: str) -> ExportRequest:
    """The export form's fields as a request; FormError names the field that is wrong."""
    source = os.path.expanduser(transcript.strip())
    if not source:
        raise FormError(NO_TRANSCRIPT)
    target = os.path.expanduser(output.strip()) or capture_name(source)
    if same_file(source, target):
        raise FormError(
            f"Capture: {target} is the transcript itself; give the capture another name"
        )
    number: int | None = None
    if session.strip():
        text = session.strip()
        if not text.isdigit() or int(text) < 1:
            raise FormError(
                f"Session: '{text}' is not a session number (1 is the first; blank: the last)"
            )
        number = int(text)
    ids = tuple(dict.fromkeys(filter(None, _IDS.split(conns.strip()))))
    for cid in ids:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", cid):
            raise FormError(f"Connection: '{cid}' is not a connection id (C1, C2...)")
    return ExportRequest(source, target, number, ids)


def export_capture(
    request: ExportRequest,
    flush: Callable[[], bool] | None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[str, bool]:
    """Write the capture (blocking: run it off the UI thread). `flush`: makes the transcript
    this app records current on disk (None: the transcript is another one). Returns what to
    tell the user and whether it went without a warning; FormError in words."""
    from workbench.transcript.capture import ExportError, export_pcapng

    flushed = flush() if flush is not None else True
    try:
        capture = export_pcapng(
            request.transcript, request.output, request.session, request.connections, cancelled
        )
    except ExportError as exc:
        raise FormError(str(exc)) from None
    except OSError as exc:
        raise FormError(f"{exc.filename or request.transcript}: {exc.strerror or exc}") from None
    except InterruptedError:
        raise FormError("the export was cancelled") from None
    count = len(capture.connections)
    text = (
        f"wrote {capture.packets:,} packets of {count} connection{'s' if count != 1 else ''} "
        f"(session {capture.session.number} of {capture.sessions}) to "
        f"{os.path.abspath(request.output)}"
    )
    warnings = []
    if not flushed:
        warnings.append("the transcript was still being written: the last records may be missing")
    if capture.skipped_lines:
        warnings.append(
            f"{capture.skipped_lines:,} line(s) of the session are cut or damaged: bytes may be "
            "missing"
        )
    if capture.without_open:
        names = ", ".join(sorted(capture.without_open))
        warnings.append(f"data of {names} left out: the transcript has no open record for it")
    if warnings:
        text += "; " + "; ".join(warnings)
    return sanitize_text(text), not warnings


# --- the replay ---


class ReplayMode(StrEnum):
    SERVE = "serve"  # a listener that plays the recorded server to each client
    AGAINST = "against"  # connections that play the recorded clients to a live server


REPLAY_MODES = (
    ("Serve at the address (a mock server)", ReplayMode.SERVE),
    ("Play the client against the address", ReplayMode.AGAINST),
)


@dataclass(frozen=True)
class ReplayRequest:
    selection: Selection
    mode: ReplayMode
    endpoint: Endpoint  # where, without its replay= yet


def read_replay_fields(
    recording: str, mode: ReplayMode, address: str, bind_host: str = DEFAULT_HOST
) -> ReplayRequest:
    """The replay form's fields as a request; FormError names the field that is wrong."""
    text = os.path.expanduser(recording.strip())
    if not text:
        raise FormError("Recording: give a transcript (FILE, FILE@2 for its session 2, FILE#C3)")
    try:
        selection = parse_selection(text)
    except SelectionError as exc:
        raise FormError(f"Recording: {exc}") from None
    serve = mode is ReplayMode.SERVE
    # A path is a Unix socket's (a URL says its own transport).
    unix = address.strip().startswith(("/", "./", "../", "~/", "@"))
    try:
        endpoint = parse_address(
            os.path.expanduser(address.strip()) if unix else address,
            Transport.UNIX if unix else Transport.TCP,
            for_listen=serve,
            default_host=bind_host if serve else DEFAULT_HOST,
        )
    except EndpointError as exc:
        raise FormError(f"Address: {exc}") from None
    if endpoint.is_datagram:
        raise FormError(
            f"Address: {endpoint.url} is a datagram socket; replay plays stream connections "
            "(tcp://, tls://, unix://)"
        )
    return ReplayRequest(selection, mode, endpoint)


def load_recording(request: ReplayRequest) -> tuple[Script, ...]:
    """The recorded stream connections the request names (blocking: it reads the file);
    FormError in words: no such file, no stream connection in it..."""
    from workbench.replay.recording import RecordingError, scripts_selected

    try:
        return scripts_selected(request.selection)
    except RecordingError as exc:
        raise FormError(f"Recording: {exc}") from None
    except OSError as exc:  # pragma: no cover - the loader says its own in words
        raise FormError(f"Recording: {exc.strerror or exc}") from None


def replay_endpoints(request: ReplayRequest, scripts: tuple[Script, ...]) -> list[Endpoint]:
    """What to open: one listener playing the selection to each client in turn; or one
    connection per recorded connection, each playing its recorded client. Each endpoint's
    behaviour checked (FormError: replay= and another answering behaviour...)."""
    from workbench.behaviour_options import checked

    if request.mode is ReplayMode.SERVE:
        chosen = [str(request.selection)]
    else:
        path = request.selection.path
        chosen = [str(Selection(path, script.session, script.cid)) for script in scripts]
    endpoints = []
    for text in chosen:
        options = replace(request.endpoint.options, replay=text)
        try:
            endpoints.append(checked(replace(request.endpoint, options=options)))
        except EndpointError as exc:
            raise FormError(f"Address: {exc}") from None
    return endpoints


def replay_told(request: ReplayRequest, scripts: tuple[Script, ...], opened: list[str]) -> str:
    """What the notice says once the replay's sockets are asked for."""
    names = ", ".join(f"{script.cid} of session {script.session}" for script in scripts)
    count = f"{len(scripts)} recorded connection{'s' if len(scripts) != 1 else ''}"
    endpoint = request.endpoint
    if request.mode is ReplayMode.SERVE:
        where = endpoint.address
        if endpoint.port == 0 and not endpoint.is_unix:
            where = f"{endpoint.host}, on the port the Listeners pane shows"
        text = (
            f"{opened[0]} plays the recorded server of {count} ({names}) to each client, "
            f"in turn, at {where}"
        )
    else:
        text = (
            f"{', '.join(opened)} play{'s' if len(opened) == 1 else ''} the recorded client of "
            f"{count} ({names}) against {endpoint.address}; differences show in the Log"
        )
    return sanitize_text(text)
