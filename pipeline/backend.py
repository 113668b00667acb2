"""TensorFlow, Keras and keras-hub, imported in one place and only where a model is needed.

TensorFlow's C++ runtime prints a start-up banner (and, in the full build on a machine
without a GPU, a CUDA notice) on stderr at import, before any logging setting can take
effect; it is hidden here so the CLIs print only their own lines. Import errors still
surface: Python raises them after stderr is restored. keras-hub is imported on first use
(`from pipeline.backend import keras_hub`), so the n-gram recipes never pay for it.

Before TensorFlow starts, its tensors are handed to glibc's malloc (see `use_malloc`).
"""

import contextlib
import ctypes
import functools
import os

from pipeline import config
from pipeline.errors import ParameterError
from pipeline.quiet import quietly

# TensorFlow's switch from oneDNN's caching allocator to malloc, read when it starts.
SYSTEM_ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
# mallopt(3) parameters (glibc's malloc.h) and the values set for TensorFlow.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: blocks up to 32 MiB are reused, not re-mapped
NEVER_TRIM = 2**31 - 1  # freed memory stays for reuse until release_heap() hands it back
ARENAS = 2


def use_malloc() -> str:
    """Choose where TensorFlow's tensors come from, before it is imported; return the choice.

    oneDNN's caching pool keeps the most that fitting ever held, and the LiteRT conversion
    after fitting needs several hundred MiB more for a moment, on top of it: the default
    recipe's training then peaked above the 2.5 GiB bound for Cloud (bench/training.py runs
    both allocators). Plain malloc gives memory back, but with glibc's defaults it maps and
    unmaps the large blocks of every step, and fitting took more than twice as long. Tuned
    here (blocks up to 32 MiB from the heap, no trimming on free, two arenas), freed blocks
    are reused as quickly as the pool's, and `pipeline.recipes.base.release_heap` hands them
    back once fitting and the conversion are done (docs/deployment.md, "Memory"). A no-op
    off glibc.
    """
    choice = os.environ.get(config.ALLOCATOR_ENV) or config.ALLOCATORS[0]
    if choice not in config.ALLOCATORS:
        raise ParameterError(
            f"{config.ALLOCATOR_ENV} must be one of {', '.join(config.ALLOCATORS)}; got {choice!r}."
        )
    if choice == "malloc":
        os.environ.setdefault(SYSTEM_ALLOCATOR_ENV, "1")
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)
            libc.mallopt(M_ARENA_MAX, ARENAS)
    return choice


def _import_tensorflow():
    use_malloc()
    import keras
    import tensorflow

    return keras, tensorflow


@functools.cache
def _import_keras_hub():
    import keras_hub

    return keras_hub


keras, tf = quietly(_import_tensorflow)


def __getattr__(name: str):
    if name == "keras_hub":
        return quietly(_import_keras_hub)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
