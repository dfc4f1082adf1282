"""How the composer's input becomes bytes (send settings), and how the Log shows received
bytes (display settings): two separate things, set together by f8 today."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from workbench.payloads import MODES, SendSettings, next_in


class SendBook:
    """The composer's mode (for every connection) and each connection's line ending and
    encoding. Only the connections whose settings differ from the default's are kept, until
    the session forgets them: one entry per peer ever seen grew without bound."""

    def __init__(self, default: SendSettings | None = None) -> None:
        self.mode = MODES[0]
        self.default = default or SendSettings()
        self.own: dict[str, SendSettings] = {}

    def settings_for(self, cid: str) -> SendSettings:
        """How `cid` sends text: its own settings, else the default's (not to be changed
        through this: see `own_settings`)."""
        return self.own.get(cid, self.default)

    def own_settings(self, cid: str) -> SendSettings:
        """`cid`'s own settings, to change: a copy of the default's the first time."""
        settings = self.own.get(cid)
        if settings is None:
            settings = self.own[cid] = replace(self.default)
        return settings

    def cycle(
        self, name: str, choices: tuple[str, ...], cids: list[str], known: Iterable[str]
    ) -> str:
        """The next of `choices` for setting `name` of `cids`; with none, of the default for
        connections that open later (the `known` ones keep what they had). The new value."""
        subjects = [self.own_settings(cid) for cid in cids]
        if not subjects:
            for cid in known:
                self.own_settings(cid)
            subjects = [self.default]
        value = next_in(choices, getattr(subjects[0], name))
        for settings in subjects:
            setattr(settings, name, value)
        return value

    def cycle_mode(self) -> None:
        self.mode = next_in(MODES, self.mode)

    def forget(self, cid: str) -> None:
        self.own.pop(cid, None)


class LogDisplay:
    """The encoding each connection's received and sent bytes are decoded with in the Log:
    its own, else the default (which starts as the send settings' default)."""

    def __init__(self, default_encoding: str) -> None:
        self.default_encoding = default_encoding
        self.own: dict[str, str] = {}

    def encoding_for(self, cid: str) -> str:
        return self.own.get(cid, self.default_encoding)

    def set_encoding(self, cids: list[str], encoding: str, known: Iterable[str]) -> None:
        """`cids` show in `encoding`; with none, connections that open later do (the
        `known` ones keep what they had)."""
        if not cids:
            for cid in known:
                self.own.setdefault(cid, self.default_encoding)
            self.default_encoding = encoding
        for cid in cids:
            self.own[cid] = encoding

    def forget(self, cid: str) -> None:
        self.own.pop(cid, None)
