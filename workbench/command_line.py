"""What every `sockbench` command's parser shares: usage errors as one line with status 2, and
the argument types they have in common. Light: the headless runner and --help load it
without the UI."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn, TypeVar

from workbench.protocol.addresses import EndpointError

EXIT_USAGE = 2
T = TypeVar("T")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` as an argparse type: its EndpointError becomes the usage error's words."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except EndpointError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def transcript_file(text: str) -> str:
    if not text:  # `--transcript "$LOG"` with LOG unset: not "no transcript"
        raise argparse.ArgumentTypeError("the file name is empty (an unset shell variable?)")
    return text
