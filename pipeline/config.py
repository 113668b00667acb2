"""Paths and limits. No other module hard-codes a path."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
# The pretrained encoder, vendored as a Keras preset (vendor/all-minilm-l6-v2/SOURCE.md).
DEFAULT_ENCODER_DIR = PROJECT_ROOT / "vendor" / "all-minilm-l6-v2"
# Derived, re-computable files (cached sentence embeddings); git ignores it.
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache"

KAGGLE_DATA_PATH = DATA_DIR / "Sentiment.csv"
SAMPLE_DATA_PATH = DATA_DIR / "sample.csv"

# Column names of the Kaggle "First GOP Debate Twitter Sentiment" file, the default data.
DEFAULT_TEXT_COLUMN = "text"
DEFAULT_LABEL_COLUMN = "sentiment"

# Data limits: the row cap keeps a retrain within a small server's memory.
MAX_TRAINING_ROWS = 200_000
MIN_ROWS_PER_CLASS = 10
# A pool of unlabelled texts to pick from (pipeline.active) is read and scored whole, and
# its picks become training data: the same cap.
MAX_POOL_ROWS = MAX_TRAINING_ROWS
# The Label tab picks at most this many texts at a time (the command line has no cap).
MAX_LABEL_PICKS = 1_000

# Split: shares of distinct normalised texts held out for validation and test.
# Error analysis slices the test part by the CSV's other columns that have 2 to this many
# distinct values (GOP's `candidate`, `subject_matter`), at most this many columns.
MAX_SLICE_VALUES = 30
MAX_SLICE_COLUMNS = 8
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15

# Label checks (pipeline.analysis.label_issues, .duplicates): folds of the out-of-fold
# probabilities, and the character n-gram cosine similarity from which two texts are near
# duplicates (at 0.85 GOP's pairs are the same tweet truncated, re-tagged or re-addressed).
LABEL_ISSUE_FOLDS = 5
NEAR_DUPLICATE_SIMILARITY = 0.85
# Corrected copies of a data file (rows relabelled or dropped, never the original); git
# ignores the folder. Tests point $SENTIMENT_CORRECTED_DIR elsewhere.
DEFAULT_CORRECTED_DATA_DIR = DATA_DIR / "corrected"
CORRECTED_DATA_DIR_ENV = "SENTIMENT_CORRECTED_DIR"

MODELS_DIR_ENV = "SENTIMENT_MODELS_DIR"
# A shared sweep's Optuna storage (postgresql://... or journal:PATH), for the Sweep view's
# attach; it may hold a password, so it comes from the environment or the app's secrets.
SWEEP_STORAGE_ENV = "SENTIMENT_SWEEP_STORAGE"
# A Ray cluster's host:port: when set (the environment or the app's secrets), the Retrain
# tab's jobs train there (pipeline/cluster.py); train.py takes --ray-address.
RAY_ADDRESS_ENV = "SENTIMENT_RAY_ADDRESS"
# The CPUs a training task on a Ray cluster asks for (SENTIMENT_TRAINING_CPUS overrides it).
TRAINING_CPUS = 2
FEEDBACK_FILE_ENV = "SENTIMENT_FEEDBACK_FILE"
# Tests point these at a tiny random encoder and a temporary cache.
ENCODER_DIR_ENV = "SENTIMENT_ENCODER_DIR"
CACHE_DIR_ENV = "SENTIMENT_CACHE_DIR"
# Modules (comma-separated) whose RECIPE joins the catalog: a recipe kept outside the project.
RECIPE_MODULES_ENV = "SENTIMENT_RECIPE_MODULES"
# Where TensorFlow's tensors come from: "malloc" (glibc, tuned to reuse freed memory and to
# give it back after fitting; the default) or "onednn" (oneDNN's caching pool, which never
# gives it back). Read once, when TensorFlow is first imported (pipeline/backend.py).
ALLOCATOR_ENV = "SENTIMENT_ALLOCATOR"
ALLOCATORS = ("malloc", "onednn")
DEFAULT_FEEDBACK_PATH = DATA_DIR / "feedback.csv"

# Caps for a shared server (the dashboard's Retrain tab). They keep a retrain, together
# with the app itself, inside Streamlit Community Cloud's 2.7 GB; one job runs at a time.
MAX_RETRAIN_EPOCHS = 30
MAX_RETRAIN_VOCAB = 50_000
MAX_RETRAIN_PARAMETERS = 3_000_000
# With an admin password in the app's secrets, promoting and deleting always need it;
# training needs it too unless the secret `require_password_to_train` is false.
ADMIN_PASSWORD_SECRET = "admin_password"
TRAIN_NEEDS_PASSWORD_SECRET = "require_password_to_train"

# The longest text the Predict box and the REST API take (api.py, ui/predict_tab.py), and
# the API's other limits. The body cap fits a full batch of the longest texts even when
# every character is sent JSON-escaped as a surrogate pair (12 bytes), so a request within
# the text and batch limits never hits it, while a huge body is refused before it is parsed.
MAX_TEXT_CHARS = 1_000
MAX_API_BATCH = 100
MAX_API_BODY_BYTES = 2_000_000

# What an anonymous visitor of a public deployment can cost (issue 13). Environment
# variables of the same name (prefixed SENTIMENT_) override them.
# Wrong admin passwords: this many per session, then every attempt waits out the lock-out;
# across all sessions of a process, this many per minute before everyone waits.
ADMIN_ATTEMPTS_PER_SESSION = 5
ADMIN_ATTEMPTS_PER_MINUTE = 20
ADMIN_LOCKOUT_SECONDS = 60
# Feedback rows: per browser session, and in the whole store.
FEEDBACK_ROWS_PER_SESSION = 20
FEEDBACK_ROWS_TOTAL = 10_000
# Labels in the labelled set (pipeline.labelled), all annotators together.
LABELS_TOTAL = 50_000
# REST API requests per client (its address) per minute; 0 turns the limit off.
API_REQUESTS_PER_MINUTE = 120
# How often a server re-reads the active version from the registry (replicas follow a
# promotion made elsewhere within this many seconds).
REFRESH_SECONDS = 3.0


def limit(name: str) -> float:
    """A limit above, or its override from the environment variable SENTIMENT_<NAME>."""
    default = globals()[name]
    raw = os.environ.get(f"SENTIMENT_{name}")
    if raw is None:
        return default
    try:
        return type(default)(raw)
    except ValueError:
        raise ValueError(f"SENTIMENT_{name} must be a number; got {raw!r}.") from None


def is_url(location: str | os.PathLike) -> bool:
    """Whether a location is an fsspec URL (s3://, gs://, hf://, memory://...), not a path."""
    return "://" in str(location)


def sweep_storage() -> str | None:
    """The shared sweeps' Optuna storage URL ($SENTIMENT_SWEEP_STORAGE), or None."""
    return os.environ.get(SWEEP_STORAGE_ENV) or None


def ray_address() -> str | None:
    """The Ray cluster the dashboard's training jobs go to ($SENTIMENT_RAY_ADDRESS), or None."""
    return os.environ.get(RAY_ADDRESS_ENV) or None


def models_dir(override: str | os.PathLike | None = None) -> str:
    """Resolve the models location: a folder, or an fsspec URL such as s3://bucket/prefix.

    Args:
        override: an explicit location, e.g. from a --models-dir option.

    Returns:
        `override` if given, else $SENTIMENT_MODELS_DIR if set, else the project's models/.
        A URL is returned as given (a Path would fold its "//"); a path as a plain string.
    """
    location = override or os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR
    return str(location).rstrip("/") if is_url(location) else str(Path(location))


def feedback_location() -> str:
    """Where feedback goes: $SENTIMENT_FEEDBACK_FILE if set; else, when the models live at a
    URL, a feedback/ prefix beside them (so feedback outlives the machine too); else
    data/feedback.csv."""
    if os.environ.get(FEEDBACK_FILE_ENV):
        return os.environ[FEEDBACK_FILE_ENV]
    models = models_dir()
    return f"{models}/feedback" if is_url(models) else str(DEFAULT_FEEDBACK_PATH)


def encoder_dir() -> Path:
    """The pretrained encoder's preset folder: $SENTIMENT_ENCODER_DIR, else the vendored one."""
    return Path(os.environ.get(ENCODER_DIR_ENV) or DEFAULT_ENCODER_DIR)


def cache_dir() -> Path:
    """Where derived files are cached: $SENTIMENT_CACHE_DIR, else .cache/ in the project."""
    return Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)


def corrected_data_dir() -> Path:
    """Where corrected copies of data go: $SENTIMENT_CORRECTED_DIR, else data/corrected/."""
    return Path(os.environ.get(CORRECTED_DATA_DIR_ENV) or DEFAULT_CORRECTED_DATA_DIR)
