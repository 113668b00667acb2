"""TensorFlow starts on the tuned malloc (pipeline/backend.py) unless told otherwise.

Each case runs in a fresh Python, because the choice is made once, before TensorFlow loads:
it runs a few multi-threaded TensorFlow ops, then asks glibc how many malloc arenas exist
(malloc_info's XML has one <heap> per arena). With the tuned malloc there are at most two;
TensorFlow's threads make more without it.
"""

import os
import subprocess
import sys

import pytest

from pipeline import config
from pipeline.backend import ARENAS, SYSTEM_ALLOCATOR_ENV

PROBE = f"""
import ctypes, os, tempfile
from pipeline.backend import tf

@tf.function
def step(a):
    return tf.reduce_sum(tf.nn.relu(tf.linalg.matmul(a, a)))

x = tf.random.normal((512, 512))
for _ in range(20):
    step(x)
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as handle:
    path = handle.name
stream = ctypes.c_void_p(libc.fopen(path.encode(), b"w"))
libc.malloc_info(0, stream)
libc.fclose(stream)
arenas = open(path).read().count("<heap nr=")
os.remove(path)
print(os.environ.get("{SYSTEM_ALLOCATOR_ENV}"), arenas)
"""


def probe(allocator: str | None) -> tuple[str, int]:
    environment = {k: v for k, v in os.environ.items() if k != SYSTEM_ALLOCATOR_ENV}
    environment.pop(config.ALLOCATOR_ENV, None)
    if allocator is not None:
        environment[config.ALLOCATOR_ENV] = allocator
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, env=environment, cwd=config.PROJECT_ROOT, check=True,
    )  # fmt: skip
    switch, arenas = done.stdout.split()
    return switch, int(arenas)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_tensorflow_starts_on_the_tuned_malloc_by_default():
    switch, arenas = probe(None)
    assert switch == "1"
    assert arenas <= ARENAS


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_the_onednn_pool_can_be_chosen_and_leaves_malloc_alone():
    switch, arenas = probe("onednn")
    assert switch == "None"
    assert arenas > ARENAS


def test_an_unknown_allocator_is_refused_with_a_clear_message():
    done = subprocess.run(
        [sys.executable, "-c", "import pipeline.backend"],
        capture_output=True, text=True, cwd=config.PROJECT_ROOT,
        env={**os.environ, config.ALLOCATOR_ENV: "jemalloc"},
    )  # fmt: skip
    assert done.returncode != 0
    assert "SENTIMENT_ALLOCATOR must be one of malloc, onednn; got 'jemalloc'." in done.stderr
