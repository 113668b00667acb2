"""Shared plumbing of the command-line tools: one-line errors and exit codes."""

import argparse
import sys
from collections.abc import Callable

from pipeline.errors import SentimentError

USER_ERROR_EXIT = 2


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit code 2."""

    def error(self, message: str):
        self.exit(USER_ERROR_EXIT, f"{self.prog}: error: {message}\n")


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a CLI main function, turning user errors into a one-line message and exit 2.

    Args:
        main: the command's main function.
        argv: its arguments; default sys.argv[1:].

    Returns:
        The exit code.
    """
    try:
        return main(argv)
    except SentimentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
