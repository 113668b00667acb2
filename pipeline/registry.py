"""The model registry: versioned models with metadata, an active pointer, atomic saves.

Layout of a models folder:

    models/
      ACTIVE                      # the active version id, replaced atomically
      20261124-011500-3f2a/       # one folder per version
        model.keras               # the end-to-end Keras model (raw strings in)
        metadata.json             # hyperparameters, labels, data, metrics, versions

A version is written to a hidden temporary folder and renamed into place, so a crash
mid-save never leaves a half version visible. Changes take a file lock, so two trainings
(from the app and train.py, say) never interleave their writes. It is a kernel lock (flock), so a
killed process releases it. (pipeline.jobs adds a second one: one training per folder.)
"""

import json
import os
import secrets
import shutil
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from pipeline.errors import RegistryError

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
ACTIVE_FILE = "ACTIVE"
LOCK_FILE = ".registry.lock"
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 6 * 3600


def new_version_id() -> str:
    """A sortable, unique version id: UTC time plus 4 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file_atomically(path: Path, text: str) -> None:
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


class Registry:
    """Versions of trained models in one folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCK_FILE), timeout=120)

    def versions(self) -> list[str]:
        """Every saved version id, newest first."""
        if not self.root.is_dir():
            return []
        found = [
            p
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file()
        ]
        # Creation time orders versions saved within the same second; the id breaks ties.
        return [p.name for p in sorted(found, key=lambda p: (_created(p), p.name), reverse=True)]

    def active_version(self) -> str | None:
        """The active version id, or None when nothing is active yet."""
        try:
            version = (self.root / ACTIVE_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return version or None

    def resolve(self, version: str | None = None) -> str:
        """Check a version exists; None means the active one.

        Args:
            version: a version id, or None.

        Returns:
            An existing version id.
        """
        available = self.versions()
        if not available:
            raise RegistryError(
                f"No model in {self.root}. Train one with: python train.py --data data/sample.csv"
            )
        if version is None:
            version = self.active_version() or available[0]
        if version not in available:
            raise RegistryError(
                f"Unknown model version {version!r} in {self.root}. "
                f"Available: {', '.join(available)}."
            )
        return version

    def path(self, version: str) -> Path:
        """The folder of an existing version."""
        return self.root / self.resolve(version)

    def metadata(self, version: str | None = None) -> dict:
        """The metadata of one version (the active one by default)."""
        folder = self.path(version)
        try:
            return json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"Version {folder.name} has unreadable metadata: {exc}") from exc

    def list(self) -> list[dict]:
        """Metadata of every version, newest first, each with an `active` flag."""
        active = self.active_version()
        rows = []
        for version in self.versions():
            meta = self.metadata(version)
            rows.append({**meta, "version": version, "active": version == active})
        return rows

    def load_model(self, version: str | None = None):
        """Load a version's Keras model with safe_mode on (no arbitrary code runs).

        Args:
            version: a version id, or None for the active one.

        Returns:
            The end-to-end keras.Model.
        """
        from pipeline.recipes import load_keras_model

        model_path = self.path(version) / MODEL_FILE
        architecture = self.metadata(version).get("architecture")
        try:
            return load_keras_model(model_path, architecture)
        except Exception as exc:  # any failure to load means the version is broken
            raise RegistryError(f"Model file {model_path} could not be loaded: {exc}") from exc

    def problem(self, version: str) -> str | None:
        """Why a version's model file cannot be loaded, or None if it looks whole.

        A cheap check (the file exists and is a zip with the parts Keras writes), so the
        app can list broken versions and start on a healthy one without loading them all.
        """
        model_path = self.root / version / MODEL_FILE
        if not model_path.is_file():
            return f"{MODEL_FILE} is missing"
        try:
            with zipfile.ZipFile(model_path) as archive:
                missing = {"config.json", "model.weights.h5"} - set(archive.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            return f"{MODEL_FILE} is unreadable ({exc})"
        return f"{MODEL_FILE} lacks {', '.join(sorted(missing))}" if missing else None

    def healthy_default(self) -> str | None:
        """The active version if its file is whole, else the newest whole one, else None."""
        versions = self.versions()
        candidates = [self.active_version(), *versions]
        return next((v for v in candidates if v in versions and not self.problem(v)), None)

    def load_numpy_model(self, version: str | None = None):
        """Load a version for TensorFlow-free serving (see pipeline.numpy_model).

        Args:
            version: a version id, or None for the active one.

        Returns:
            A NumpyFastText, or None when the version's architecture needs Keras.
        """
        from pipeline.numpy_model import load_numpy_model

        return load_numpy_model(self.path(version) / MODEL_FILE)

    def save(self, model, metadata: dict, promote: bool = False) -> str:
        """Save a model as a new version, atomically.

        Args:
            model: the end-to-end keras.Model.
            metadata: everything to record beside it; `version` and `created` are added.
            promote: make it active. The first version of an empty registry is always made
                active.

        Returns:
            The new version id.
        """
        version = new_version_id()
        metadata = {
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="microseconds"),
            **metadata,
        }
        temp = self.root / f"{TEMP_PREFIX}{version}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temp.mkdir()
            model.save(temp / MODEL_FILE)
            with open(temp / METADATA_FILE, "w", encoding="utf-8") as handle:
                json.dump(metadata, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            with self._lock():
                self._remove_stale_temps()
                os.rename(temp, self.root / version)
                _fsync_dir(self.root)
                if promote or self.active_version() is None:
                    _write_file_atomically(self.root / ACTIVE_FILE, version + "\n")
        except OSError as exc:
            raise RegistryError(f"Could not save the model in {self.root}: {exc}") from exc
        finally:
            # Whatever happened, no half-written folder stays behind to fill the disk.
            shutil.rmtree(temp, ignore_errors=True)
        return version

    def promote(self, version: str) -> None:
        """Make an existing version the active one."""
        with self.writing("promote the version"), self._lock():
            version = self.resolve(version)
            _write_file_atomically(self.root / ACTIVE_FILE, version + "\n")

    def delete(self, version: str) -> None:
        """Delete a version; the active one cannot be deleted."""
        with self.writing("delete the version"), self._lock():
            version = self.resolve(version)
            if version == self.active_version():
                raise RegistryError(
                    f"Version {version} is active and cannot be deleted. Promote another first."
                )
            # Rename first so a crash mid-delete leaves a hidden folder, not a broken version.
            doomed = self.root / f"{TEMP_PREFIX}deleted-{version}"
            os.rename(self.root / version, doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    @contextmanager
    def writing(self, action: str) -> Iterator[None]:
        """Turn an OSError in the block (a full disk, a read-only folder) into a RegistryError."""
        try:
            yield
        except OSError as exc:
            raise RegistryError(f"Could not {action} in {self.root}: {exc}") from exc

    def _remove_stale_temps(self) -> None:
        # Left by a process killed mid-save; only old ones, so a save in progress is spared.
        for entry in self.root.glob(f"{TEMP_PREFIX}*"):
            try:
                if time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            except OSError:
                pass
