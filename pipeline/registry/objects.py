"""A store of model versions at an fsspec URL: s3:// (s3fs), gs:// (gcsfs), hf://, memory://...

Object stores have no rename and no lock, so the guarantees are built differently:
- **A version is visible only once committed.** Its files are uploaded first and its
  `metadata.json`, the commit marker (which also records every file's size and SHA-256),
  last; readers ignore a prefix without it. A killed upload leaves an invisible prefix,
  removed by a later save once it is STALE_TEMP_SECONDS old.
- **The active pointer is a compare-and-swap.** On S3 (and S3-compatible services that
  honour them) every write of `ACTIVE` is conditional: `If-Match` with the ETag that was
  read, or `If-None-Match: *` when there was none, so of two racing writers one fails and
  retries on fresh state; nothing is lost. Other fsspec stores get a lock inside the
  process only: safe for one server, last-writer-wins between several.
- **Versions are immutable**, so each one is downloaded once into a local cache
  (config.cache_dir()/registry/...), checked against its recorded SHA-256, and loaded
  from there. When the store cannot be reached, the cached versions and the last active
  pointer seen keep being served, and `unavailable` says why.
Credentials and endpoints come from each library's own environment variables (for s3fs:
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION...).
"""

import contextlib
import hashlib
import json
import re
import secrets
import shutil
import threading
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import fsspec

from pipeline import config
from pipeline.errors import RegistryError, StoreUnavailable
from pipeline.registry.store import (
    ACTIVE_FILE,
    METADATA_FILE,
    MODEL_FILE,
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    Pointer,
    file_digest,
    model_file_problem,
    pointer_text,
    pointer_version,
)

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
# Fail fast on an unreachable endpoint instead of botocore's long default retries.
S3_OPTIONS = {
    "config_kwargs": {"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 2}},
    "use_listings_cache": False,  # replicas must see each other's versions at once
}


def _process_lock(location: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(location, threading.RLock())


def _precondition_failed(exc: Exception) -> bool:
    text = f"{exc} {exc.__cause__!r}"
    return any(code in text for code in ("PreconditionFailed", "ConditionalRequestConflict"))


class ObjectStore:
    """Versions under an fsspec URL; see the module's docstring.

    Args:
        url: e.g. s3://bucket/models. The bucket must exist.
        storage_options: passed to fsspec (defaults for S3: short timeouts, no listing cache).
    """

    remote = True

    def __init__(self, url: str, **storage_options):
        self.location = url.rstrip("/")
        protocol = fsspec.core.split_protocol(self.location)[0]
        self.s3 = protocol in ("s3", "s3a")
        self.storage_options = storage_options
        options = {**(S3_OPTIONS if self.s3 else {}), **storage_options}
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.location, **options)
        except (ImportError, ValueError) as exc:
            raise RegistryError(
                f"Cannot open the model store {self.location}: {exc}. For s3:// the s3fs "
                "package is needed (in requirements.txt); for gs:// install gcsfs."
            ) from exc
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.location)[-60:]
        digest = hashlib.sha256(self.location.encode()).hexdigest()[:12]
        self.work_dir = config.cache_dir() / "registry" / f"{digest}-{slug}"
        self.unavailable: str | None = None

    # --- reaching the store -------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def call(self, action: str, function, *args, **kwargs):
        """Run one store request; anything but a missing key becomes StoreUnavailable."""
        try:
            result = function(*args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:  # the network, credentials, permissions: one clear message
            if _precondition_failed(exc):
                raise
            self.unavailable = (
                f"The model store {self.location} cannot be reached to {action} "
                f"({type(exc).__name__}: {str(exc)[:200]}). Check the network, the endpoint "
                "URL and the credentials (for S3: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY)."
            )
            raise StoreUnavailable(self.unavailable) from exc
        self.unavailable = None
        return result

    def exclusive(self) -> AbstractContextManager:
        """Nothing on S3, where every pointer change is a conditional write (so writers in
        one process race exactly as writers on different machines do, and the tests see it);
        elsewhere a lock inside this process, the only guarantee those stores get here."""
        return contextlib.nullcontext() if self.s3 else _process_lock(self.location)

    # --- versions -----------------------------------------------------------------------

    def committed(self) -> list[str]:
        """Committed version ids, newest first; the cached ones when the store is unreachable."""
        try:
            found = self.call("list versions", self.fs.glob, self._key("*", METADATA_FILE))
            versions = [Path(p).parent.name for p in found]
            versions = [v for v in versions if not v.startswith(".")]
        except StoreUnavailable:
            versions = self._cached_versions()

        def created(version: str) -> tuple:
            try:
                return json.loads(self.read_metadata(version)).get("created", ""), version
            except (OSError, ValueError, RegistryError):
                return "", version

        return sorted(versions, key=created, reverse=True)

    def _cached_versions(self) -> list[str]:
        if not self.work_dir.is_dir():
            return []
        return [
            p.name
            for p in self.work_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file()
        ]

    def _cache_write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{TEMP_PREFIX}{path.name}-{secrets.token_hex(4)}")
        temp.write_bytes(data)
        temp.replace(path)

    def read_metadata(self, version: str) -> str:
        cached = self.work_dir / version / METADATA_FILE
        if cached.is_file():
            return cached.read_text(encoding="utf-8")
        data = self.call("read metadata", self.fs.cat_file, self._key(version, METADATA_FILE))
        self._cache_write(cached, data)
        return data.decode("utf-8")

    def version_file(self, version: str, name: str = MODEL_FILE) -> Path:
        """The local copy of one of a version's files, downloaded once and checked."""
        cached = self.work_dir / version / name
        if cached.is_file():
            return cached
        expected = json.loads(self.read_metadata(version)).get("files", {}).get(name)
        if expected is None and name != MODEL_FILE:
            raise FileNotFoundError(f"version {version} has no {name}")
        temp = cached.with_name(f"{TEMP_PREFIX}{name}-{secrets.token_hex(4)}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.call(f"download {name}", self.fs.get_file, self._key(version, name), str(temp))
            if expected and file_digest(temp) != expected:
                raise RegistryError(
                    f"The download of version {version}'s {name} does not match the size "
                    "and SHA-256 in its metadata; it was not used."
                )
            temp.replace(cached)
        finally:
            temp.unlink(missing_ok=True)
        return cached

    def model_problem(self, version: str) -> str | None:
        cached = self.work_dir / version / MODEL_FILE
        if cached.is_file():
            return model_file_problem(cached)
        try:
            info = self.call("check the model", self.fs.info, self._key(version, MODEL_FILE))
        except FileNotFoundError:
            return f"{MODEL_FILE} is missing"
        except StoreUnavailable:
            return "the store cannot be reached and the model is not cached here"
        expected = json.loads(self.read_metadata(version)).get("files", {}).get(MODEL_FILE)
        if expected and info.get("size") != expected["size"]:
            return f"{MODEL_FILE} has {info.get('size')} bytes, not the {expected['size']} recorded"
        return None

    def staging(self, version: str) -> Path:
        folder = self.work_dir / f"{TEMP_PREFIX}{version}"
        folder.mkdir(parents=True)
        return folder

    def commit(self, version: str, folder: Path) -> None:
        """Upload every file, then the commit marker (create-only), then keep the local copy.

        A version id already committed is refused before any upload, so its files are never
        overwritten (the marker's create-only write refuses it again, for two commits racing).
        """
        self._remove_stale_uploads()
        marker_key = self._key(version, METADATA_FILE)
        self.fs.invalidate_cache(marker_key)
        if self.call("check the version id", self.fs.exists, marker_key):
            raise FileExistsError(f"Version {version} is already in {self.location}.")
        for path in sorted(folder.iterdir()):
            if path.name != METADATA_FILE:
                self.call("upload the model", self.fs.put_file, str(path),
                           self._key(version, path.name))  # fmt: skip
        marker = (folder / METADATA_FILE).read_bytes()
        self._put(marker_key, marker, create_only=True)
        target = self.work_dir / version
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def commit_record(self, name: str, text: str) -> None:
        """One create-only upload of the record's metadata.json, then a local copy. No sweep
        of killed uploads, as `commit` does: a one-object record leaves none behind."""
        self._put(self._key(name, METADATA_FILE), text.encode("utf-8"), create_only=True)
        self._cache_write(self.work_dir / name / METADATA_FILE, text.encode("utf-8"))

    def hide(self, version: str) -> str:
        """Remove the commit marker, so readers stop seeing the version; returns it."""
        marker = self.read_metadata(version)
        self.call("delete the version", self.fs.rm_file, self._key(version, METADATA_FILE))
        return marker

    def unhide(self, version: str, hidden: str) -> None:
        """Put back the commit marker that `hide` returned."""
        self._put(self._key(version, METADATA_FILE), hidden.encode("utf-8"))

    def purge(self, version: str, hidden: str) -> None:
        # A record that was only its commit marker (a label) is gone with the marker.
        with contextlib.suppress(FileNotFoundError):
            self.call("delete the version", self.fs.rm, self._key(version), recursive=True)
        shutil.rmtree(self.work_dir / version, ignore_errors=True)

    def substore(self, name: str) -> "ObjectStore":
        """A store of the same kind under a sub-prefix, e.g. ".evaluations/<version>"."""
        return ObjectStore(f"{self.location}/{name}", **self.storage_options)

    def remove(self, name: str) -> None:
        """Delete a sub-store: its commit markers first, so nothing half-deleted is listed,
        then every other object under it, then the local copies."""
        sub = self.substore(name)
        markers = self.call(f"list {name}", self.fs.glob, sub._key("*", METADATA_FILE))
        if markers:
            self.call("delete", self.fs.rm, markers)
        with contextlib.suppress(FileNotFoundError):
            self.call("delete", self.fs.rm, sub.root, recursive=True)
        shutil.rmtree(sub.work_dir, ignore_errors=True)

    def _remove_stale_uploads(self) -> None:
        """Prefixes without a commit marker, older than STALE_TEMP_SECONDS (killed uploads)."""
        try:
            prefixes = self.call("list versions", self.fs.ls, self.root, detail=False)
        except FileNotFoundError:
            return
        committed = set(self.committed())
        for prefix in prefixes:
            name = Path(prefix).name
            if name in committed or name == ACTIVE_FILE or not self.fs.isdir(prefix):
                continue
            try:
                modified = self.fs.modified(f"{prefix}/{MODEL_FILE}")
            except (FileNotFoundError, NotImplementedError):
                continue
            if (datetime.now(UTC) - modified.astimezone(UTC)).total_seconds() > STALE_TEMP_SECONDS:
                self.call("remove a killed upload", self.fs.rm, prefix, recursive=True)

    # --- the active pointer ---------------------------------------------------------------

    def read_pointer(self) -> Pointer:
        """The active version and its ETag (S3) or text; the last one seen when unreachable."""
        key, cached = self._key(ACTIVE_FILE), self.work_dir / ACTIVE_FILE
        try:
            if self.s3:
                info = self.call("read the active version", self.fs.info, key, refresh=True)
                text = self.call("read the active version", self.fs.cat_file, key).decode()
                pointer = Pointer(pointer_version(text), info.get("ETag"))
            else:
                text = self.call("read the active version", self.fs.cat_file, key).decode()
                pointer = Pointer(pointer_version(text), text)
        except FileNotFoundError:
            return Pointer(None, None)
        except StoreUnavailable:
            if cached.is_file():
                return Pointer(pointer_version(cached.read_text(encoding="utf-8")), "offline")
            return Pointer(None, "offline")
        self._cache_write(cached, text.encode())
        return pointer

    def swap_pointer(self, expected: Pointer, version: str) -> bool:
        """Point at `version` only if the pointer is unchanged since `expected` was read."""
        body = pointer_text(version, nonce=f"{time.time():.6f} {secrets.token_hex(8)}").encode()
        key = self._key(ACTIVE_FILE)
        if expected.token == "offline":
            raise StoreUnavailable(self.unavailable or f"{self.location} cannot be reached.")
        try:
            if self.s3:
                condition = {"IfMatch": expected.token} if expected.token else {"IfNoneMatch": "*"}
                self._put(key, body, **condition)
            else:  # no conditional writes: compare and write under this process's lock
                if self.read_pointer().token != expected.token:
                    return False
                self._put(key, body)
        except OSError as exc:
            if _precondition_failed(exc):
                return False
            raise
        return True

    def _put(self, key: str, body: bytes, create_only: bool = False, **condition) -> None:
        """Write one object; on S3 with its conditions (create_only: If-None-Match: *)."""
        if not self.s3:
            self.call("write", self.fs.pipe_file, key, body)
            return
        if create_only:
            condition = {"IfNoneMatch": "*"}
        bucket, path, _ = self.fs.split_path(key)
        self.call("write", self.fs.call_s3, "put_object", Bucket=bucket, Key=path, Body=body,
                   **condition)  # fmt: skip
        self.fs.invalidate_cache(key)
