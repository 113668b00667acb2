"""Run native code whose start-up notices go straight to file descriptor 2."""

import os


def quietly(function):
    """Call `function()` with stderr (the file descriptor, not just sys.stderr) discarded.

    TensorFlow's C++ runtime prints a banner at import, and LiteRT a line per interpreter,
    before any logging setting can take effect. Exceptions still surface: Python raises
    them after stderr is restored.
    """
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        return function()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
