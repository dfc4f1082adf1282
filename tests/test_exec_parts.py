"""The exec behaviour's parts with plain calls: the behaviour's actions, the command's split,
and the bounds on the Log lines a program's stderr makes."""

from __future__ import annotations

from workbench.engine.behaviours import Context, Send, behaviour_for
from workbench.engine.behaviours.program_actions import EndInput, Feed, Run
from workbench.engine.stderr_lines import LINES_PER_SECOND, MAX_LINE_BYTES, StderrLines
from workbench.exec_command import Program, program_for
from workbench.protocol.enums import Origin, Transport
from workbench.protocol.options import SocketOptions

CTX = Context("C1", Transport.TCP, "127.0.0.1:5555")


def test_the_command_is_split_as_a_shell_would_without_a_shell() -> None:
    options = SocketOptions(exec_command="""printf '%s|' "a b" c\\ d '$HOME'""")
    program = program_for(options)
    assert program == Program(
        ("printf", "%s|", "a b", "c d", "$HOME"), "exec", options.exec_command or ""
    )
    assert program.name == "printf"


def test_sh_runs_the_command_through_bin_sh() -> None:
    program = program_for(SocketOptions(sh_command="echo $HOME; exit 3"))
    assert program is not None
    assert (program.argv, program.name) == (("/bin/sh", "-c", "echo $HOME; exit 3"), "sh")


def test_greet_then_exec_greets_before_the_program_starts() -> None:
    make = behaviour_for(SocketOptions(greet="hi\\n", exec_command="cat"))
    assert make is not None
    behaviour = make()
    opened = behaviour.on_open(CTX)
    assert opened[0] == Send(b"hi\n", Origin.GREET)
    assert isinstance(opened[1], Run) and opened[1].program.argv == ("cat",)
    assert behaviour.on_data(CTX, b"x") == [Feed(b"x")]
    assert behaviour.on_eof(CTX) == [EndInput()]


def test_a_long_line_is_cut_and_says_how_much() -> None:
    lines = StderrLines("exec stderr: ")
    assert lines.feed(b"x" * (MAX_LINE_BYTES + 1000), 0.0) == []
    (line,) = lines.feed(b"yyy\nrest", 0.0)
    assert line == "exec stderr: " + "x" * MAX_LINE_BYTES + "… (line cut: 1,003 more bytes)"
    assert lines.finish(0.0) == ["exec stderr: rest"]


def test_lines_past_the_rate_are_counted_not_shown() -> None:
    lines = StderrLines("sh stderr: ")
    shown = lines.feed(b"line\r\n" * (LINES_PER_SECOND + 30), 10.0)
    assert shown == ["sh stderr: line"] * LINES_PER_SECOND
    # The next second says what was left out, then shows again.
    assert lines.feed(b"again\n", 11.0) == [
        f"sh stderr: 30 more lines not shown (at most {LINES_PER_SECOND} a second are)",
        "sh stderr: again",
    ]
    assert lines.finish(11.5) == []


def test_what_was_left_out_is_said_when_stderr_ends() -> None:
    lines = StderrLines("sh stderr: ")
    lines.feed(b"z\n" * (LINES_PER_SECOND + 1), 0.0)
    assert lines.finish(0.1) == [
        f"sh stderr: 1 more line not shown (at most {LINES_PER_SECOND} a second are)"
    ]
