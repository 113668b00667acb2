"""TensorFlow, Keras and keras-hub, imported in one place and only where a model is needed.

TensorFlow's C++ runtime prints a start-up banner (and, in the full build on a machine
without a GPU, a CUDA notice) on stderr at import, before any logging setting can take
effect; it is hidden here so the CLIs print only their own lines. Import errors still
surface: Python raises them after stderr is restored. keras-hub is imported on first use
(`from pipeline.backend import keras_hub`), so the n-gram recipes never pay for it.
"""

import functools

from pipeline.quiet import quietly


def _import_tensorflow():
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
