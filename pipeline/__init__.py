"""Sentiment pipeline: data, cleaning, models, training, evaluation, prediction, registry.

from pipeline import load_predictor
predictor = load_predictor()              # the active version in models/
predictor.predict_proba(["WORST SHOW EVER"])
"""

import os

# Keep TensorFlow's C++ log lines out of the CLIs' and the app's output: the full build
# logs a CUDA initialisation error on every machine without a GPU. Python errors still raise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pipeline.errors import SentimentError  # noqa: E402
from pipeline.predict import Predictor, load_predictor  # noqa: E402

__all__ = ["Predictor", "SentimentError", "load_predictor"]
