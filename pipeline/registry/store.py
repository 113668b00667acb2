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
`metadata.json`, committed the same way as a version; the labelled set's labels live in
`.labels/`, one immutable record per label (pipeline.labelled).

The registry (pipeline.registry) uses only what `Store` lists, so it never knows which
store it is on; pipeline.registry.open_store picks one for a location.
"""

import hashlib
import zipfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
ACTIVE_FILE = "ACTIVE"
TEMP_PREFIX = ".tmp-"
# Where a version's evaluations live (pipeline.analysis.evaluations): EVALUATIONS_DIR/<version>.
EVALUATIONS_DIR = ".evaluations"
# Where the labelled set lives (pipeline.labelled): LABELS_DIR/<label id>/metadata.json.
LABELS_DIR = ".labels"
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
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
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


@runtime_checkable
class Store(Protocol):
    """What a store of versions offers the registry; LocalStore and ObjectStore both do.

    A version is staged in a local folder, then committed (made visible all at once); it
    never changes after that. Changes of the store (commits, the pointer, deletions) are made
    while holding `exclusive()`.

    Attributes:
        location: the folder or URL as given, for messages.
        work_dir: a local folder for locks and caches (the store itself for a folder).
        remote: whether the versions live elsewhere and are downloaded once.
        unavailable: why the store could not be reached on the last request, or None.
    """

    location: str
    work_dir: Path
    remote: bool
    unavailable: str | None

    def exclusive(self) -> AbstractContextManager:
        """The lock that every change of the store is made under."""
        ...

    def committed(self) -> list[str]:
        """Committed version ids (names starting with a dot excluded), newest first."""
        ...

    def read_metadata(self, version: str) -> str:
        """The text of a committed version's metadata.json."""
        ...

    def version_file(self, version: str, name: str = MODEL_FILE) -> Path:
        """A local path to one of a version's files (downloaded once from a remote store)."""
        ...

    def model_problem(self, version: str) -> str | None:
        """Why a version's model file is not whole, or None (a cheap check)."""
        ...

    def staging(self, version: str) -> Path:
        """A new local folder to write a version's files into before `commit`."""
        ...

    def commit(self, version: str, folder: Path) -> None:
        """Make a staged folder visible as `version`, all or nothing (under `exclusive`)."""
        ...

    def discard(self, folder: Path) -> None:
        """Delete a staging folder, committed or not."""
        ...

    def commit_record(self, name: str, text: str) -> None:
        """Commit a record that is only its metadata.json (a label) as `name`, all or
        nothing; the store takes its own lock. Listed by `committed` like a version, read
        with `read_metadata`, deleted with `hide` and `purge`."""
        ...

    def hide(self, version: str) -> object:
        """Take a version out of sight; returns what `unhide` and `purge` need."""
        ...

    def unhide(self, version: str, hidden: object) -> None:
        """Put a hidden version back."""
        ...

    def purge(self, version: str, hidden: object) -> None:
        """Delete a hidden version for good."""
        ...

    def substore(self, name: str) -> "Store":
        """A store of the same kind under `name` (e.g. ".evaluations/<version>")."""
        ...

    def remove(self, name: str) -> None:
        """Delete a sub-store and everything in it; nothing half-deleted stays listed."""
        ...

    def read_pointer(self) -> Pointer:
        """The active pointer as read now."""
        ...

    def swap_pointer(self, expected: Pointer, version: str) -> bool:
        """Point at `version` if the pointer is still `expected`; False if it changed."""
        ...
