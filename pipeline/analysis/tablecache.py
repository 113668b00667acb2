"""Tables derived from a data file, cached on disk as CSV under its SHA-256 and the settings.

The label checks (likely label errors, conflicting duplicates) take seconds on GOP; a data
file with the same bytes and the same settings always gives the same table, so it is
computed once per machine (config.cache_dir()/<kind>/<key>.csv). CSV, never pickle: a
cache file is data, and reading it can never run code.
"""

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline import config


def cache_key(settings: dict) -> str:
    """A short, stable key for settings (the data's SHA-256 among them).

    Args:
        settings: JSON-serialisable values that determine the table.

    Returns:
        24 hex digits.
    """
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_file(kind: str, settings: dict) -> Path:
    """Where the table of one kind for these settings is cached."""
    return config.cache_dir() / kind / f"{cache_key(settings)}.csv"


def cached_table(
    kind: str, settings: dict, compute: Callable[[], pd.DataFrame], dtypes: dict
) -> pd.DataFrame:
    """The cached table, or `compute()` written to the cache first.

    Args:
        kind: the cache sub-folder, e.g. "label_issues".
        settings: what determines the table (see `cache_key`).
        compute: makes the table when it is not cached.
        dtypes: column types to read the CSV back with (text columns as str).

    Returns:
        The table.
    """
    path = cache_file(kind, settings)
    if path.is_file():
        try:
            return pd.read_csv(path, dtype=dtypes, keep_default_na=False)
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and replaced
    table = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Its own temporary name per process and thread, so two writers never mix their bytes.
    temp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    table.to_csv(temp, index=False)
    temp.replace(path)
    return table
