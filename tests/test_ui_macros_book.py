"""The macro book without a screen: fields checked in plain words, keys, names, rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.payloads import SendSettings
from workbench.protocol.sequences import SendPayload
from workbench.ui.macro_book import MacroBook, MacroError, check_key, make_macro, preview, render
from workbench.ui.macro_dialog import parse_repeat
from workbench.ui.macro_sending import composer_payload


def test_a_text_macro_is_a_template_rendered_per_send() -> None:
    macro = make_macro("ping", "text", "PING {counter} {conn}\\r\\n", "f9", "250", "3")
    assert macro.payload == SendPayload(template="PING {counter} {conn}\\r\\n")
    assert (macro.key, macro.repeat_ms, macro.count) == ("f9", 250, 3)
    assert render(macro.payload, "C2", "127.0.0.1:5", 7) == b"PING 7 C2\r\n"


def test_a_hex_macro_is_its_bytes() -> None:
    macro = make_macro("bin", "hex", "de ad be ef")
    assert macro.payload.data == b"\xde\xad\xbe\xef"
    assert render(macro.payload, "C1", "peer", 1) == b"\xde\xad\xbe\xef"


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (("bad name", "text", "x"), "Name: letters, digits"),
        (("ok", "text", "{nope}"), "Text: "),
        (("ok", "text", "a { b"), "Text: "),
        (("ok", "text", ""), "Text: type the message"),
        (("ok", "hex", "zz"), "Hex: "),
        (("ok", "text", "x", "q"), "Key: q types a character"),
        (("ok", "text", "x", "hyper+x"), "Key: 'hyper+x' is not a key name"),
        (("ok", "text", "x", "f1"), "Key: f1 is Help"),
        (("ok", "text", "x", "", "fast"), "Repeat every (ms): a whole number"),
        (("ok", "text", "x", "", "10", "-1"), "Count: a whole number"),
    ],
)
def test_bad_fields_are_said_in_words(fields: tuple[str, ...], said: str) -> None:
    with pytest.raises(MacroError) as error:
        make_macro(*fields)
    assert str(error.value).startswith(said)


def test_keys_are_textual_names() -> None:
    assert check_key(" Ctrl+1 ") == "ctrl+1"
    assert check_key("f9") == "f9"
    assert check_key("alt+x") == "alt+x"
    assert check_key("") == ""


def test_the_book_refuses_a_second_name_or_key_and_keeps_the_order() -> None:
    book = MacroBook([make_macro("a", "text", "A", "f9"), make_macro("b", "text", "B")])
    with pytest.raises(MacroError, match="there is a macro a already"):
        book.put(make_macro("a", "text", "again"))
    with pytest.raises(MacroError, match="f9 sends macro a already"):
        book.put(make_macro("c", "text", "C", "f9"))
    book.put(make_macro("a2", "text", "A2", "f9"), replacing="a")  # renamed in its place
    assert [m.name for m in book] == ["a2", "b"]
    assert book.by_key("f9") is not None and book.by_key("f9").name == "a2"  # type: ignore[union-attr]
    assert [book.next_counter("b"), book.next_counter("b")] == [1, 2]
    assert book.delete("b") is not None and "b" not in book


def test_a_preview_is_short_and_shows_no_control_characters() -> None:
    macro = make_macro("x", "text", "\x1b[31m" + "A" * 80)
    shown = preview(macro)
    assert "\x1b" not in shown and len(shown) <= 40


def test_the_composers_message_repeats_with_its_line_ending() -> None:
    payload = composer_payload("text", "n={counter}", SendSettings(line_ending="crlf"))
    assert render(payload, "C1", "p", 12) == b"n=12\r\n"
    assert composer_payload("hex", "01 02", SendSettings()).data == b"\x01\x02"
    with pytest.raises(ValueError, match="text or hex"):
        composer_payload("file", "/etc/hosts", SendSettings())
    with pytest.raises(ValueError, match="brace"):
        composer_payload("text", "a {b", SendSettings())


def test_the_repeat_dialogs_fields() -> None:
    assert parse_repeat("1,000", "") == (1000, 0)
    assert parse_repeat("5", "20") == (5, 20)
    with pytest.raises(MacroError, match="Every"):
        parse_repeat("0", "")
    with pytest.raises(MacroError, match="Count"):
        parse_repeat("5", "0")


def test_keys_that_move_or_edit_need_a_modifier() -> None:
    with pytest.raises(MacroError, match="moves or edits"):
        check_key("up")
    assert check_key("ctrl+up") == "ctrl+up"
    assert check_key("insert") == "insert"


def test_a_file_macro_reads_its_bytes_and_says_why_not(tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x00\x01binary")
    macro = make_macro("blob", "file", str(payload))
    assert (macro.source, macro.payload.data, macro.given) == (
        "file",
        b"\x00\x01binary",
        str(payload),
    )
    assert preview(macro).startswith("file ") and "(8 bytes)" in preview(macro)
    with pytest.raises(MacroError, match=r"^File: .*cannot be read"):
        make_macro("blob", "file", str(tmp_path / "missing.bin"))
    with pytest.raises(MacroError, match=r"^File: .*not a regular file"):
        make_macro("blob", "file", str(tmp_path))
