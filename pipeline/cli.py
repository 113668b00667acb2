"""Shared plumbing of the command-line tools: one-line errors and exit codes."""

import argparse
import os
import sys
from collections.abc import Callable

from pipeline.errors import SentimentError

USER_ERROR_EXIT = 2
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for a reader that left early


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
        code = main(argv)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at exit
        return code
    except BrokenPipeError:
        # The reader stopped early (`| head`): nothing is wrong. Python would flush stdout
        # again at exit and print a traceback, so what is left goes to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    except SentimentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
