"""Sending macros and repeats: to the marked connections, else the target (the composer's
recipients), with the origin `macro NAME` or `repeat`. Textual-free: the screen shows what
these return (an error in words, or "" when it went)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from workbench.codec import parse_hex
from workbench.payloads import LINE_ENDINGS, SendSettings
from workbench.protocol.enums import Origin, OriginName
from workbench.protocol.sequences import SendPayload
from workbench.rules.template import TemplateError, parse_template
from workbench.session.core import NotSendable, SessionCore
from workbench.ui.macro_book import MacroBook, origin_for, render

if TYPE_CHECKING:
    from workbench.engine import Engine
    from workbench.session_file.model import Macro

REPEAT_ID_PREFIX = "R"


class RepeatRequest(NamedTuple):
    interval_ms: int
    times: int  # 0: until stopped


def composer_payload(mode: str, text: str, settings: SendSettings) -> SendPayload:
    """The composer's message as a repeat sends it: text is a template (its escapes, the
    `{fields}` such as `{counter}`) with the line ending of the send settings; hex is bytes.
    Raises ValueError saying what is wrong."""
    if mode == "hex":
        return SendPayload(data=parse_hex(text), encoding=settings.encoding)
    if mode != "text":
        raise ValueError("a repeat sends text or hex: switch the composer's mode (ctrl+t)")
    ending = LINE_ENDINGS[settings.line_ending].decode("ascii")
    template = text + ending.replace("\r", "\\r").replace("\n", "\\n")
    try:
        parse_template(template, settings.encoding)
    except TemplateError as exc:
        raise ValueError(f"{exc} (a literal brace is {{{{ or }}}})") from None
    if not template:
        raise ValueError("type the message to repeat in the composer first")
    return SendPayload(template=template, encoding=settings.encoding)


class MacroSender:
    def __init__(self, core: SessionCore, get_engine: Callable[[], Engine], book: MacroBook):
        self.core = core
        self._get_engine = get_engine
        self.book = book
        self._repeats = 0  # repeat ids handed out so far (R1, R2...)
        self.started: dict[str, str] = {}  # repeat id -> what started it ("macro ping")

    @property
    def engine(self) -> Engine:
        return self._get_engine()

    def recipients(self) -> list[tuple[str, str]]:
        """The connections a send goes to, (cid, peer); raises NotSendable, as the composer
        says it, when there is none or one cannot take it."""
        cids = [cid for cid, _ in self.core.payloads(lambda settings: b"")]
        conns = self.core.session.connections
        return [(cid, conns[cid].remote) for cid in cids]

    def send(self, macro: Macro) -> str:
        """Send `macro` once to each recipient: "" when it went, else why not."""
        try:
            recipients = self.recipients()
        except NotSendable as exc:
            return f"macro {macro.name} not sent: {exc}"
        counter = self.book.next_counter(macro.name)
        origin = origin_for(macro)
        try:
            sends = [(cid, render(macro.payload, cid, peer, counter)) for cid, peer in recipients]
        except ValueError as exc:
            return f"macro {macro.name} not sent: {exc}"
        for cid, data in sends:
            self.engine.send(cid, data, origin)
        self.core.targeting.acknowledge()
        return ""

    def start_macro_repeat(self, macro: Macro, interval_ms: int = 0, times: int = -1) -> str:
        """Repeat `macro` (every its repeat_ms, its count times, unless given): the repeat's
        id, or raises NotSendable/ValueError saying why not."""
        interval = interval_ms or macro.repeat_ms
        if interval <= 0:
            raise ValueError(f"macro {macro.name} has no repeat: give it Repeat every (ms)")
        count = macro.count if times < 0 else times
        return self.start_repeat(macro.payload, interval, count, origin_for(macro), macro.name)

    def start_repeat(
        self,
        payload: SendPayload,
        interval_ms: int,
        times: int,
        origin: OriginName = Origin.REPEAT,
        what: str = "the composer's message",
    ) -> str:
        cids = tuple(cid for cid, _ in self.recipients())
        self._repeats += 1
        rid = f"{REPEAT_ID_PREFIX}{self._repeats}"
        self.engine.start_repeat(rid, cids, payload, interval_ms / 1000, times, origin)
        self.started[rid] = what
        self.core.targeting.acknowledge()
        return rid

    def stop(self, rid: str) -> None:
        self.engine.stop_repeat(rid)

    def running(self) -> list[str]:
        """The ids of the repeats still running, oldest first."""
        repeats = self.core.session.repeats
        return sorted(
            (rid for rid, progress in repeats.items() if not progress.finished),
            key=lambda rid: (len(rid), rid),
        )

    def stop_all(self) -> list[str]:
        stopped = self.running()
        for rid in stopped:
            self.stop(rid)
        return stopped
