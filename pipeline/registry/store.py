"""The storage layer under the registry: what a store of model versions must offer.

A store holds immutable versions (a folder of files each, `metadata.json` among them) and
one mutable object, the active pointer. Two kinds exist:

- LocalStore (pipeline.registry.local), a folder: a version becomes visible when its
  temporary folder is renamed into place; the active pointer is replaced atomically under
  a kernel file lock (flock).
- ObjectStore (pipeline.registry.objects), an fsspec URL (s3://, gs://, hf://,
  memory://...): a version becomes visible when `metadata.json`, the commit marker, is
  written after every other file; the active pointer is a compare-and-swap (S3 conditional
  writes, If-Match / If-None-Match).

A store can hold sub-stores of the same kind (`substore`), under names that start with a
dot so they are never listed as versions: each version's evaluations live in
`.evaluations/<version>/`, one immutable folder per evaluation with its own
`metadata.json`, committed the same way as a version.

The registry (pipeline.registry) uses only the methods below, so it never knows which
store it is on.
"""

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline import config

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
ACTIVE_FILE = "ACTIVE"
TEMP_PREFIX = ".tmp-"
# Where a version's evaluations live (pipeline.analysis.evaluations): EVALUATIONS_DIR/<version>.
EVALUATIONS_DIR = ".evaluations"
# A temporary folder or an uncommitted upload older than this was left by a killed process.
STALE_TEMP_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Pointer:
    """The active pointer as read: the version it names, and what a swap must still find.

    Attributes:
        version: the active version id, or None when nothing is active.
        token: the store's proof of what was read (the file's text, an ETag).
    """

    version: str | None
    token: object = None


def pointer_text(version: str, nonce: str = "") -> str:
    """The pointer's content: the version on the first line (readers take only that line).

    A nonce on a second line makes every write differ, so a compare-and-swap that rewrites
    the same version still changes the ETag (see Registry.delete).
    """
    return f"{version}\n" + (f"# {nonce}\n" if nonce else "")


def pointer_version(text: str) -> str | None:
    """The version a pointer's text names, or None."""
    first = text.strip().splitlines()[:1]
    return first[0].strip() or None if first else None


def file_digest(path: Path) -> dict:
    """Size and SHA-256 of a file, as recorded in a version's metadata under `files`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def model_file_problem(path: Path) -> str | None:
    """Why a local model file is not whole, or None (a cheap check: a zip with Keras's parts)."""
    if not path.is_file():
        return f"{MODEL_FILE} is missing"
    try:
        with zipfile.ZipFile(path) as archive:
            missing = {"config.json", "model.weights.h5"} - set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        return f"{MODEL_FILE} is unreadable ({exc})"
    return f"{MODEL_FILE} lacks {', '.join(sorted(missing))}" if missing else None


def open_store(location: str):
    """The store for a location: a LocalStore for a path or file:// URL, else an ObjectStore.

    Args:
        location: a folder or an fsspec URL (config.models_dir resolves it).

    Returns:
        A LocalStore or an ObjectStore.
    """
    if location.startswith("file://"):
        location = location.removeprefix("file://")
    if config.is_url(location):
        from pipeline.registry.objects import ObjectStore

        return ObjectStore(location)
    from pipeline.registry.local import LocalStore

    return LocalStore(Path(location))
