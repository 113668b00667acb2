"""Paths and limits. No other module hard-codes a path."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"

KAGGLE_DATA_PATH = DATA_DIR / "Sentiment.csv"
SAMPLE_DATA_PATH = DATA_DIR / "sample.csv"

# Column names of the Kaggle "First GOP Debate Twitter Sentiment" file, the default data.
DEFAULT_TEXT_COLUMN = "text"
DEFAULT_LABEL_COLUMN = "sentiment"

# Data limits: the row cap keeps a retrain within a small server's memory.
MAX_TRAINING_ROWS = 200_000
MIN_ROWS_PER_CLASS = 10

# Split: shares of distinct normalised texts held out for validation and test.
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15

MODELS_DIR_ENV = "SENTIMENT_MODELS_DIR"


def models_dir(override: str | os.PathLike | None = None) -> Path:
    """Resolve the models folder.

    Args:
        override: an explicit folder, e.g. from a --models-dir option.

    Returns:
        `override` if given, else $SENTIMENT_MODELS_DIR if set, else the project's models/.
    """
    if override:
        return Path(override)
    return Path(os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR)
