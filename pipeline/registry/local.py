"""A store of model versions in a local folder.

    models/
      ACTIVE                      # the active version id, replaced atomically
      20261124-011500-3f2a/       # one folder per version
        model.keras               # the end-to-end Keras model (raw strings in)
        metadata.json             # hyperparameters, labels, data, metrics, files

A version is written into a hidden temporary folder and renamed into place, so a crash
mid-save never leaves a half version visible. Changes take a file lock, so two writers
(the app and train.py, say) never interleave. It is a kernel lock (flock), so a killed
process releases it.
"""

import json
import os
import secrets
import shutil
import time
from contextlib import AbstractContextManager
from pathlib import Path

from filelock import FileLock

from pipeline.registry.store import (
    ACTIVE_FILE,
    METADATA_FILE,
    MODEL_FILE,
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    Pointer,
    model_file_problem,
    pointer_text,
    pointer_version,
)

LOCK_FILE = ".registry.lock"
# A change waits this long for another writer's lock, then fails with a message.
LOCK_TIMEOUT_SECONDS = 120


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, text: str) -> None:
    """Replace a file's content all at once (write a temporary file, fsync, rename)."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}-{secrets.token_hex(4)}")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _created(folder: Path) -> str:
    try:
        return json.loads((folder / METADATA_FILE).read_text(encoding="utf-8")).get("created", "")
    except (OSError, ValueError):
        return ""


class LocalStore:
    """Versions in one folder; see the module's docstring."""

    remote = False
    unavailable: str | None = None  # a local folder is always reachable

    def __init__(self, root: Path):
        self.root = Path(root)
        self.location = str(self.root)
        self.work_dir = self.root  # where process locks (the training slot) live

    def exclusive(self) -> AbstractContextManager:
        """The lock every change of the folder takes."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCK_FILE), timeout=LOCK_TIMEOUT_SECONDS)

    def committed(self) -> list[str]:
        """Version ids whose folder is in place, newest first."""
        if not self.root.is_dir():
            return []
        found = [
            p
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file()
        ]
        # Creation time orders versions saved within the same second; the id breaks ties.
        return [p.name for p in sorted(found, key=lambda p: (_created(p), p.name), reverse=True)]

    def read_metadata(self, version: str) -> str:
        return (self.root / version / METADATA_FILE).read_text(encoding="utf-8")

    def version_file(self, version: str, name: str = MODEL_FILE) -> Path:
        return self.root / version / name

    def model_problem(self, version: str) -> str | None:
        return model_file_problem(self.version_file(version))

    def staging(self, version: str) -> Path:
        """A new, hidden folder to write a version's files into before commit."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = self.root / f"{TEMP_PREFIX}{version}"
        folder.mkdir()
        return folder

    def commit(self, version: str, folder: Path) -> None:
        """Make a staged version visible: one rename. The caller holds exclusive()."""
        self._remove_stale_temps()
        os.rename(folder, self.root / version)
        _fsync_dir(self.root)

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def commit_record(self, name: str, text: str) -> None:
        """Stage the record's metadata.json and rename its folder into place, under the lock."""
        folder = self.staging(name)
        try:
            write_file_atomically(folder / METADATA_FILE, text)
            with self.exclusive():
                self.commit(name, folder)
        finally:
            self.discard(folder)

    def hide(self, version: str) -> Path:
        """Take a version out of sight (rename), so a crash mid-delete hides it, not breaks it."""
        hidden = self.root / f"{TEMP_PREFIX}deleted-{version}"
        os.rename(self.root / version, hidden)
        return hidden

    def unhide(self, version: str, hidden: Path) -> None:
        os.rename(hidden, self.root / version)

    def purge(self, version: str, hidden: Path) -> None:
        shutil.rmtree(hidden, ignore_errors=True)

    def substore(self, name: str) -> "LocalStore":
        """A store of the same kind in a sub-folder, e.g. ".evaluations/<version>"."""
        return LocalStore(self.root / name)

    def remove(self, name: str) -> None:
        """Delete a sub-store: hidden first by one rename (so a crash mid-delete leaves none of
        it listed; a later commit removes the leftover), then deleted."""
        folder = self.root / name
        if not folder.is_dir():
            return
        hidden = self.root / f"{TEMP_PREFIX}deleted-{secrets.token_hex(4)}"
        os.rename(folder, hidden)
        shutil.rmtree(hidden, ignore_errors=True)

    def read_pointer(self) -> Pointer:
        try:
            text = (self.root / ACTIVE_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return Pointer(None, None)
        return Pointer(pointer_version(text), text)

    def swap_pointer(self, expected: Pointer, version: str) -> bool:
        """Point at `version` if the pointer is still as read. The caller holds exclusive()."""
        if self.read_pointer().token != expected.token:
            return False
        write_file_atomically(self.root / ACTIVE_FILE, pointer_text(version))
        return True

    def _remove_stale_temps(self) -> None:
        # Left by a process killed mid-save; only old ones, so a save in progress is spared.
        for entry in self.root.glob(f"{TEMP_PREFIX}*"):
            try:
                if time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            except OSError:
                pass
