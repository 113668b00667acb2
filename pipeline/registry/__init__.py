"""The model registry: immutable versions with metadata, an active pointer, atomic saves.

The registry knows versions, their files, their metadata and which one is active; it loads
no model (pipeline.predict does, through a runtime). Where the files live is the storage
layer's business (the contract: pipeline.registry.store.Store): a local folder, or any
fsspec URL such as s3://bucket/models. The same guarantees hold on both:
- a save is all or nothing: a crash mid-save never leaves a half version visible;
- two writers never lose an update of the active pointer (every change is a
  compare-and-swap, retried on fresh state);
- the active version cannot be deleted, even by a racing promotion;
- a store that cannot be reached gives one clear message, and the versions already cached
  on this machine keep being served (see `unavailable`).

Beside each version, in their own place (store.EVALUATIONS_DIR), the registry keeps its
evaluations on labelled CSV files (pipeline.analysis.evaluations): each one a record and
its files, saved all or nothing like a version, never listed as a version, and deleted
with the version.
"""

from __future__ import annotations  # `list` is also a method name below

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline import config
from pipeline.errors import RegistryError, StoreUnavailable
from pipeline.registry.local import LocalStore
from pipeline.registry.store import (
    ACTIVE_FILE,
    EVALUATIONS_DIR,
    METADATA_FILE,
    MODEL_FILE,
    TEMP_PREFIX,
    Store,
    file_digest,
)

__all__ = ["ACTIVE_FILE", "METADATA_FILE", "MODEL_FILE", "TEMP_PREFIX", "Registry", "open_store"]
SWAP_ATTEMPTS = 20


def open_store(location: str) -> Store:
    """The store for a location: a LocalStore for a path or file:// URL, else an ObjectStore.

    Args:
        location: a folder or an fsspec URL (config.models_dir resolves it).

    Returns:
        A LocalStore or an ObjectStore.
    """
    if location.startswith("file://"):
        location = location.removeprefix("file://")
    if config.is_url(location):
        # Imported only for a URL: fsspec alone takes about half a second to import.
        from pipeline.registry.objects import ObjectStore

        return ObjectStore(location)
    return LocalStore(Path(location))


def new_version_id() -> str:
    """A sortable, unique version id: UTC time plus 4 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _check_file_names(files: dict[str, bytes], reserved: set[str]) -> None:
    if reserved & set(files) or any("/" in name for name in files):
        raise ValueError(f"invalid extra file names: {sorted(files)}")


def _write_metadata(folder: Path, metadata: dict, names: list[str]) -> None:
    """Write metadata.json into a staged folder, with the size and SHA-256 of `names`."""
    metadata = {**metadata, "files": {name: file_digest(folder / name) for name in names}}
    with open(folder / METADATA_FILE, "w", encoding="utf-8") as handle:
        json.dump(metadata, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())


class Registry:
    """Versions of trained models in one store.

    Args:
        root: a folder or an fsspec URL (see config.models_dir).
    """

    def __init__(self, root: str | os.PathLike):
        self.store = open_store(config.models_dir(root))
        self.root = self.store.location  # for messages: the folder or URL as given
        self.work_dir: Path = self.store.work_dir  # a local folder for locks and caches

    def __reduce__(self):
        # Pickled (to a training worker process) as where it is, and opened there afresh:
        # a store's clients and caches stay in the process that made them.
        return (Registry, (self.root,))

    @property
    def unavailable(self) -> str | None:
        """Why the store could not be reached on the last request, or None."""
        return self.store.unavailable

    def versions(self) -> list[str]:
        """Every saved version id, newest first."""
        return self.store.committed()

    def active_version(self) -> str | None:
        """The active version id, or None when nothing is active yet."""
        return self.store.read_pointer().version

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

    def model_file(self, version: str | None = None) -> Path:
        """A local path to a version's model file (downloaded once from a remote store)."""
        return self.store.version_file(self.resolve(version))

    def version_file(self, version: str | None, name: str) -> Path | None:
        """A local path to another file saved with a version (see `save`), or None.

        Args:
            version: a version id, or None for the active one.
            name: the file's name, e.g. "predictions.csv".

        Returns:
            The path (downloaded once from a remote store), or None when the version has no
            such file (it was saved before the file existed).
        """
        version = self.resolve(version)
        if name not in self.metadata(version).get("files", {}):
            return None
        with self.writing(f"read {name}"):
            return self.store.version_file(version, name)

    def metadata(self, version: str | None = None) -> dict:
        """The metadata of one version (the active one by default)."""
        version = self.resolve(version)
        try:
            return json.loads(self.store.read_metadata(version))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"Version {version} has unreadable metadata: {exc}") from exc

    def list(self) -> list[dict]:
        """Metadata of every version, newest first, each with an `active` flag."""
        active = self.active_version()
        rows = []
        for version in self.versions():
            meta = self.metadata(version)
            rows.append({**meta, "version": version, "active": version == active})
        return rows

    def problem(self, version: str) -> str | None:
        """Why a version's model file cannot be loaded, or None if it looks whole.

        A cheap check (the file exists and is a zip with the parts Keras writes; on a remote
        store, that it has the recorded size), so the app can list broken versions and start
        on a healthy one without loading them all.
        """
        return self.store.model_problem(version)

    def healthy_default(self) -> str | None:
        """The active version if its file is whole, else the newest whole one, else None."""
        versions = self.versions()
        candidates = [self.active_version(), *versions]
        return next((v for v in candidates if v in versions and not self.problem(v)), None)

    def save(
        self, model, metadata: dict, promote: bool = False, files: dict[str, bytes] | None = None
    ) -> str:
        """Save a model as a new version, atomically.

        Args:
            model: the end-to-end keras.Model.
            metadata: everything to record beside it; `version`, `created` and `files`
                (each file's size and SHA-256) are added.
            promote: make it active. The first version of an empty registry is always made
                active.
            files: more files to keep with the version, name -> content (its test-set
                predictions, training logs); read back with `version_file`.

        Returns:
            The new version id.
        """
        version = new_version_id()
        metadata = {
            **metadata,
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        }
        self._commit(version, metadata, lambda path: model.save(path), "save the model",
                     activate="always" if promote else "if_none", files=files)  # fmt: skip
        return version

    def copy_in(self, source: Registry, version: str) -> bool:
        """Copy one version from another registry, keeping its id, and its evaluations that
        are not here yet.

        Args:
            source: the registry to copy from (a folder or a URL).
            version: a version of `source`.

        Returns:
            Whether the version was copied (False: it was here already).
        """
        version = source.resolve(version)
        copied = version not in self.versions()
        if copied:
            model_file = source.model_file(version)
            copy = lambda path: shutil.copyfile(model_file, path)  # noqa: E731
            metadata = source.metadata(version)
            files = {
                name: source.version_file(version, name).read_bytes()
                for name in metadata.get("files", {})
                if name != MODEL_FILE
            }
            self._commit(version, metadata, copy, "copy the version", files=files)
        here = {record["evaluation"] for record in self.evaluations(version)}
        for record in source.evaluations(version):
            evaluation = record["evaluation"]
            if evaluation in here:
                continue
            files = {
                name: source.evaluation_file(version, evaluation, name).read_bytes()
                for name in record.get("files", {})
            }
            self._commit_evaluation(version, evaluation, record, files)
        return copied

    def _commit(
        self,
        version: str,
        metadata: dict,
        write_model,
        action: str,
        activate: str = "never",
        files: dict[str, bytes] | None = None,
    ) -> None:
        """Stage a version (the model via `write_model(path)`, the other `files`, then its
        metadata with every file's size and SHA-256), commit it, and point at it if
        `activate` says so ("always", "if_none" the store has no active version, or
        "never")."""
        files = files or {}
        _check_file_names(files, {MODEL_FILE, METADATA_FILE})
        with self.writing(action):
            folder = self.store.staging(version)
        try:
            with self.writing(action):
                write_model(folder / MODEL_FILE)
                for name, content in files.items():
                    (folder / name).write_bytes(content)
                _write_metadata(folder, metadata, [MODEL_FILE, *sorted(files)])
                with self.store.exclusive():
                    self.store.commit(version, folder)
                    if activate != "never":
                        self._swap(version, only_if_empty=activate == "if_none")
        finally:
            # Whatever happened, no half-written folder stays behind to fill the disk.
            self.store.discard(folder)

    def promote(self, version: str) -> None:
        """Make an existing version the active one."""
        with self.writing("promote the version"), self.store.exclusive():
            self._swap(version)

    def _swap(self, version: str, only_if_empty: bool = False) -> None:
        """Point the active pointer at a committed version, by compare-and-swap."""
        for _ in range(SWAP_ATTEMPTS):
            pointer = self.store.read_pointer()
            if only_if_empty and pointer.version is not None:
                return
            self.resolve(version)  # still there (a racing delete hides it first)
            if self.store.swap_pointer(pointer, version):
                return
        raise RegistryError(
            f"The active version in {self.root} kept changing under {SWAP_ATTEMPTS} attempts "
            "to update it; try again."
        )

    def delete(self, version: str) -> None:
        """Delete a version; the active one cannot be deleted.

        The version is hidden first, then the pointer is rewritten as it was (a fence): a
        promotion of this version that raced the check fails its own swap, retries, and
        finds the version gone; if the promotion won, the version is restored instead.
        """
        with self.writing("delete the version"), self.store.exclusive():
            version = self.resolve(version)
            pointer = self.store.read_pointer()
            self._refuse_active(version, pointer.version)
            hidden = self.store.hide(version)
            if pointer.version is not None and not self.store.swap_pointer(
                pointer, pointer.version
            ):
                now = self.store.read_pointer().version
                if now == version:
                    self.store.unhide(version, hidden)
                    self._refuse_active(version, now)
            self.store.purge(version, hidden)
            # After the version: a crash between the two leaves evaluations of no version,
            # which are never listed, rather than a version that lost them.
            self.store.remove(f"{EVALUATIONS_DIR}/{version}")

    def _evaluation_store(self, version: str):
        return self.store.substore(f"{EVALUATIONS_DIR}/{version}")

    def evaluations(self, version: str | None = None) -> list[dict]:
        """Every evaluation stored beside a version, newest first.

        Args:
            version: a version id, or None for the active one.

        Returns:
            Each evaluation's record as saved (see `save_evaluation`).
        """
        version = self.resolve(version)
        store = self._evaluation_store(version)
        return [self._read_evaluation(store, version, e) for e in store.committed()]

    def evaluation(self, version: str, evaluation: str) -> dict:
        """One evaluation's record.

        Args:
            version: a version id.
            evaluation: an evaluation id of that version.

        Returns:
            The record, with `evaluation`, `version`, `created` and `files`.
        """
        version = self.resolve(version)
        store = self._evaluation_store(version)
        if evaluation not in store.committed():
            raise RegistryError(f"Version {version} has no evaluation {evaluation!r}.")
        return self._read_evaluation(store, version, evaluation)

    @staticmethod
    def _read_evaluation(store, version: str, evaluation: str) -> dict:
        try:
            return json.loads(store.read_metadata(evaluation))
        except (OSError, ValueError) as exc:
            raise RegistryError(
                f"Evaluation {evaluation} of version {version} is unreadable: {exc}"
            ) from exc

    def evaluation_file(self, version: str, evaluation: str, name: str) -> Path:
        """A local path to a file saved with an evaluation (downloaded once from a remote
        store and checked against its recorded SHA-256)."""
        if name not in self.evaluation(version, evaluation).get("files", {}):
            raise RegistryError(f"Evaluation {evaluation} of version {version} has no {name}.")
        with self.writing(f"read {name}"):
            return self._evaluation_store(version).version_file(evaluation, name)

    def evaluation_location(self, version: str, evaluation: str) -> str:
        """Where an evaluation is kept, for messages: a folder, or a URL prefix."""
        return f"{self.root}/{EVALUATIONS_DIR}/{version}/{evaluation}"

    def save_evaluation(self, version: str, record: dict, files: dict[str, bytes]) -> str:
        """Keep an evaluation beside a version, atomically: a crash mid-save leaves none listed.

        Args:
            version: the version evaluated.
            record: what to keep (its data, metrics...); `evaluation` (the new id),
                `version`, `created` and `files` (each file's size and SHA-256) are added.
            files: name -> content, e.g. the predictions.

        Returns:
            The new evaluation's id.
        """
        version = self.resolve(version)
        evaluation = new_version_id()
        record = {
            **record,
            "evaluation": evaluation,
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        }
        self._commit_evaluation(version, evaluation, record, files)
        return evaluation

    def _commit_evaluation(
        self, version: str, evaluation: str, record: dict, files: dict[str, bytes]
    ) -> None:
        """Stage an evaluation's files and its record (with their sizes and SHA-256), then
        commit it: one rename, or the record uploaded last as the commit marker."""
        _check_file_names(files, {METADATA_FILE})
        store = self._evaluation_store(version)
        with self.writing("save the evaluation"):
            folder = store.staging(evaluation)
        try:
            with self.writing("save the evaluation"):
                for name, content in files.items():
                    (folder / name).write_bytes(content)
                _write_metadata(folder, record, sorted(files))
                with store.exclusive():
                    store.commit(evaluation, folder)
        finally:
            store.discard(folder)

    @staticmethod
    def _refuse_active(version: str, active: str | None) -> None:
        if version == active:
            raise RegistryError(
                f"Version {version} is active and cannot be deleted. Promote another first."
            )

    @contextmanager
    def writing(self, action: str) -> Iterator[None]:
        """Turn an OSError in the block (a full disk, a read-only folder) into a RegistryError."""
        try:
            yield
        except StoreUnavailable:
            raise
        except OSError as exc:
            raise RegistryError(f"Could not {action} in {self.root}: {exc}") from exc
