"""TensorFlow and Keras, imported in one place and only where a model is built or loaded.

TensorFlow's C++ runtime prints a start-up banner on stderr at import, before any
logging setting can take effect; it is hidden here so the CLIs print only their own lines.
Import errors still surface: Python raises them after stderr is restored.
"""

import os


def _import_quietly():
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras, tensorflow


keras, tf = _import_quietly()
