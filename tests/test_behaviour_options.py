"""Behaviours that cannot work together are refused before a listener opens, in words that
name both and say why."""

from __future__ import annotations

import pytest

from workbench.behaviour_options import answering, check_behaviours
from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import options_from


def test_two_answering_behaviours_are_refused_naming_both() -> None:
    with pytest.raises(EndpointError) as refused:
        check_behaviours(options_from({"echo": True, "rules": "/tmp/r.toml"}))
    message = str(refused.value)
    assert "echo=1 and rules= do not go together" in message
    assert "choose one" in message


def test_chat_with_broker_is_chat() -> None:
    assert answering(options_from({"broker": True, "chat": True})) == ["chat=1"]


def test_hangup_goes_with_a_greeting_alone() -> None:
    with pytest.raises(EndpointError, match="hangup=1 and echo=1 do not go together"):
        check_behaviours(options_from({"greet": "hi", "hangup": True, "echo": True}))
    with pytest.raises(EndpointError, match="hangup=1 needs greet=TEXT"):
        check_behaviours(options_from({"hangup": True}))
    check_behaviours(options_from({"greet": "hi\\n", "hangup": True}))
