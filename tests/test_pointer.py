"""The active pointer is replaced whole: a crash or a kill mid-promote leaves the old
version or the new one, never an empty or partial pointer, and readers never see one."""

import builtins
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_registry import save, tiny_model

from pipeline import config
from pipeline.errors import RegistryError
from pipeline.registry import ACTIVE_FILE, Registry


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> tuple[Path, str, str]:
    """A local registry with two versions, the first active."""
    root = tmp_path_factory.mktemp("pointer")
    registry = Registry(root)
    model = tiny_model()
    first = save(registry, model)
    second = save(registry, model)
    return root, first, second


class WriteFails:
    """A file opened for writing whose every write fails: the disk dies mid-write."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        raise OSError(5, "Input/output error")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def __getattr__(self, name):
        return getattr(self.handle, name)


def test_a_write_that_fails_mid_promote_leaves_the_old_pointer(two_versions, monkeypatch):
    root, first, second = two_versions
    Registry(root).promote(first)
    real_open = builtins.open

    def failing_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        writing = any(flag in mode for flag in "wax+")
        return WriteFails(handle) if writing and Path(file).parent == root else handle

    monkeypatch.setattr(builtins, "open", failing_open)
    monkeypatch.setattr(io, "open", failing_open)
    with pytest.raises(RegistryError, match="Input/output error"):
        Registry(root).promote(second)
    monkeypatch.undo()
    assert (root / ACTIVE_FILE).read_text(encoding="utf-8").splitlines()[:1] == [first]
    assert Registry(root).active_version() == first


PROMOTER = """
import sys
from pipeline.registry import Registry
registry = Registry(sys.argv[1])
print("ready", flush=True)
while True:
    registry.promote(sys.argv[2])
    registry.promote(sys.argv[3])
"""


def test_readers_never_see_a_torn_pointer_and_a_kill_leaves_a_whole_one(two_versions):
    root, first, second = two_versions
    env = {**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT)}
    promoter = subprocess.Popen(
        [sys.executable, "-c", PROMOTER, str(root), first, second],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert promoter.stdout.readline().strip() == "ready"
        seen, pointer = set(), root / ACTIVE_FILE
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                text = pointer.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = "<missing>"
            seen.add(text.splitlines()[0] if text.strip() else repr(text))
        assert seen == {first, second}, f"a reader saw {seen - {first, second}}"
    finally:
        promoter.send_signal(signal.SIGKILL)
        promoter.wait(timeout=30)
    # A kill between writing the temporary file and the rename leaves that file behind
    # (removed once stale, on a later save); the pointer itself is whole.
    assert Registry(root).active_version() in (first, second)
