"""The registry on object storage, against a real S3 server on localhost (moto's server
mode, started here; no network), and on fsspec's memory:// filesystem."""

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import boto3
import numpy as np
import pandas as pd
import pytest
from conftest import shipped_version
from helpers import run_cli

from pipeline import config
from pipeline.analysis.evaluations import evaluate_version, load_evaluation_predictions
from pipeline.errors import RegistryError, StoreUnavailable
from pipeline.predict import load_model, load_predictor
from pipeline.registry import Registry
from pipeline.registry.objects import ObjectStore
from pipeline.registry.store import EVALUATIONS_DIR

moto_server = pytest.importorskip("moto.server", reason="moto[server] is in requirements-dev")
s3fs = pytest.importorskip("s3fs", reason="s3fs is in requirements.txt")

BUCKET = "models-bucket"
TEXTS = ["I love this debate", "worst night ever", "the debate is at nine"]


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch, tmp_path):
    """Credentials and the endpoint through the standard AWS variables, a fresh bucket
    prefix and a fresh local cache for each test."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    prefix = f"run-{time.time_ns()}"
    yield {"url": f"s3://{BUCKET}/{prefix}", "client": client, "prefix": prefix}
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def fasttext_source():
    """The shipped fasttext version: its Keras model and metadata, to save elsewhere."""
    registry = Registry(config.DEFAULT_MODELS_DIR)
    version = shipped_version("fasttext")
    return load_model(registry, version), registry.metadata(version)


def save_copies(registry, source, n=2, promote=False):
    model, metadata = source
    keep = {k: v for k, v in metadata.items() if k not in ("version", "created", "files")}
    return [registry.save(model, keep, promote=promote) for _ in range(n)]


def keys(s3_env) -> list[str]:
    listed = s3_env["client"].list_objects_v2(Bucket=BUCKET, Prefix=s3_env["prefix"] + "/")
    return sorted(o["Key"].split("/", 1)[1] for o in listed.get("Contents", []))


def test_save_list_promote_delete_and_load_on_s3(s3_env, fasttext_source, tmp_path):
    registry = Registry(s3_env["url"])
    assert registry.versions() == [] and registry.active_version() is None
    first, second = save_copies(registry, fasttext_source)
    assert registry.versions() == [second, first]  # newest first
    assert registry.active_version() == first  # the first save of an empty store
    assert f"{first}/model.keras" in keys(s3_env) and f"{first}/metadata.json" in keys(s3_env)
    assert not (tmp_path / "s3:").exists()  # a URL is not a folder

    registry.promote(second)
    replica = Registry(s3_env["url"])  # another process's view
    assert replica.active_version() == second
    with pytest.raises(RegistryError, match="active and cannot be deleted"):
        replica.delete(second)
    replica.delete(first)
    assert registry.versions() == [second]
    assert not any(k.startswith(first) for k in keys(s3_env))

    predictor = load_predictor(s3_env["url"])
    assert predictor.version == second
    direct = load_predictor(config.DEFAULT_MODELS_DIR, fasttext_source[1]["version"])
    np.testing.assert_allclose(predictor.predict_proba(TEXTS), direct.predict_proba(TEXTS))


def test_a_version_is_downloaded_once_and_checked(s3_env, fasttext_source):
    registry = Registry(s3_env["url"])
    (version,) = save_copies(Registry(s3_env["url"]), fasttext_source, n=1)
    cached = registry.model_file(version)
    # The saving process keeps its own copy; a replica downloads into its cache once.
    assert cached.is_relative_to(config.cache_dir())
    meta = registry.metadata(version)
    assert meta["files"]["model.keras"]["size"] == cached.stat().st_size
    cached.unlink()
    # A store that serves other bytes than the recorded checksum is refused.
    s3_env["client"].put_object(
        Bucket=BUCKET, Key=f"{s3_env['prefix']}/{version}/model.keras", Body=b"not a model"
    )
    with pytest.raises(RegistryError, match="does not match the size and SHA-256"):
        registry.model_file(version)
    assert not cached.exists()


def test_an_upload_killed_before_its_commit_marker_stays_invisible(s3_env, fasttext_source):
    registry = Registry(s3_env["url"])
    (good,) = save_copies(registry, fasttext_source, n=1)
    # A child process saves a version over a slow link: the model's upload is followed by
    # a pause (standing in for the network), and it is SIGKILLed there, before the marker.
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, s3_env["url"], fasttext_source[1]["version"]],
        cwd=config.PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "uploaded"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    orphans = {k.split("/")[0] for k in keys(s3_env)} - {good, "ACTIVE"}
    assert len(orphans) == 1  # the model object is there...
    assert registry.versions() == [good]  # ...but no reader sees a version
    assert registry.active_version() == good
    assert load_predictor(s3_env["url"]).version == good


SLOW_SAVE = """
import sys, time
from pipeline.predict import load_model
from pipeline.registry import Registry

source = Registry("models")
model, meta = load_model(source, sys.argv[2]), source.metadata(sys.argv[2])
registry = Registry(sys.argv[1])
upload = registry.store.fs.put_file
def slow_put(*args, **kwargs):
    upload(*args, **kwargs)
    print("uploaded", flush=True)
    time.sleep(60)
registry.store.fs.put_file = slow_put
keep = {k: v for k, v in meta.items() if k not in ("version", "created", "files")}
registry.save(model, keep, promote=True)
"""


def test_a_stale_upload_is_removed_by_a_later_save(s3_env, fasttext_source, monkeypatch):
    registry = Registry(s3_env["url"])
    s3_env["client"].put_object(
        Bucket=BUCKET, Key=f"{s3_env['prefix']}/20260101-000000-dead/model.keras", Body=b"x"
    )
    monkeypatch.setattr("pipeline.registry.objects.STALE_TEMP_SECONDS", 0)
    save_copies(registry, fasttext_source, n=1)
    assert not any(k.startswith("20260101-000000-dead") for k in keys(s3_env))


def stored(s3_env, key: str) -> bytes:
    """An object's bytes on the S3 server itself, past any local cache."""
    answer = s3_env["client"].get_object(Bucket=BUCKET, Key=f"{s3_env['prefix']}/{key}")
    return answer["Body"].read()


def test_a_records_commit_marker_is_written_create_only(s3_env):
    # A record name picked twice: the S3 server refuses the second upload with 412, and the
    # first record stays as it was.
    store = ObjectStore(f"{s3_env['url']}/.labels")
    first = '{"created": "2026-01-01T00:00:00", "label": "first"}'
    store.commit_record("r1", first)
    with pytest.raises(FileExistsError):
        store.commit_record("r1", '{"created": "2026-01-01T00:00:00", "label": "second"}')
    assert stored(s3_env, ".labels/r1/metadata.json") == first.encode()


def refused(*args, **kwargs):
    """An fsspec call of a store that cannot be reached (the network, failing)."""
    raise ConnectionRefusedError("connection refused")


def commit_version(store: ObjectStore, version: str, label: str) -> None:
    folder = store.staging(version)
    (folder / "model.keras").write_bytes(f"weights of {label}".encode())
    (folder / "metadata.json").write_text(json.dumps({"label": label}))
    store.commit(version, folder)


def test_a_versions_commit_marker_is_written_create_only(s3_env):
    store, version = ObjectStore(s3_env["url"]), "20260101-000000-beef"
    commit_version(store, version, "first")
    with pytest.raises(FileExistsError):  # the same version id committed twice
        commit_version(store, version, "second")
    assert json.loads(stored(s3_env, f"{version}/metadata.json")) == {"label": "first"}
    # Refused before any upload: the first version's files are as it wrote them.
    assert stored(s3_env, f"{version}/model.keras") == b"weights of first"


def test_of_two_commits_racing_under_one_id_only_the_first_marker_lands(s3_env, monkeypatch):
    store, version = ObjectStore(s3_env["url"]), "20260101-000000-beef"
    commit_version(store, version, "first")
    # The second checked the id just before the first's marker landed: the server's 412 on
    # the create-only marker is then what refuses it.
    monkeypatch.setattr(store.fs, "exists", lambda path: False)
    with pytest.raises(OSError):
        commit_version(store, version, "second")
    assert json.loads(stored(s3_env, f"{version}/metadata.json")) == {"label": "first"}


def test_a_models_file_is_checked_by_its_recorded_size_before_any_download(
    s3_env, monkeypatch, tmp_path
):
    # The app lists broken versions and starts on a whole one without downloading them all.
    store, version = ObjectStore(s3_env["url"]), "20260101-000000-beef"
    folder = store.staging(version)
    (folder / "model.keras").write_bytes(b"weights")
    record = {"files": {"model.keras": {"size": 7, "sha256": "not checked here"}}}
    (folder / "metadata.json").write_text(json.dumps(record))
    store.commit(version, folder)
    assert store.model_problem(version).startswith("model.keras is unreadable (")  # the copy
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "another-machine"))
    elsewhere = ObjectStore(s3_env["url"])
    assert elsewhere.model_problem(version) is None  # 7 bytes, as recorded
    model_key = f"{s3_env['prefix']}/{version}/model.keras"
    s3_env["client"].put_object(Bucket=BUCKET, Key=model_key, Body=b"weig")
    assert elsewhere.model_problem(version) == "model.keras has 4 bytes, not the 7 recorded"
    s3_env["client"].delete_object(Bucket=BUCKET, Key=model_key)
    assert elsewhere.model_problem(version) == "model.keras is missing"

    monkeypatch.setattr(elsewhere.fs, "info", refused)
    assert elsewhere.model_problem(version) == (
        "the store cannot be reached and the model is not cached here"
    )


def test_another_machine_downloads_a_versions_files_once_checked(monkeypatch, tmp_path):
    url = f"memory://files-{time.time_ns()}/models"
    here = ObjectStore(url)
    folder = here.staging("v1")
    (folder / "model.keras").write_bytes(b"weights")
    (folder / "log.txt").write_bytes(b"epoch 1")
    files = {"model.keras": b"weights", "log.txt": b"epoch 1"}
    record = {
        "files": {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        }
    }
    (folder / "metadata.json").write_text(json.dumps(record))
    here.commit("v1", folder)
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "another-machine"))
    there = ObjectStore(url)
    assert there.version_file("v1", "log.txt").read_bytes() == b"epoch 1"
    assert there.version_file("v1").read_bytes() == b"weights"
    with pytest.raises(FileNotFoundError):
        there.version_file("v1", "predictions.csv")  # not saved with this version
    here.fs.pipe_file(f"{here.root}/v1/log.txt", b"epoch 2")  # changed on the store
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "a-third-machine"))
    with pytest.raises(RegistryError, match="does not match the size and SHA-256"):
        ObjectStore(url).version_file("v1", "log.txt")


def test_a_hidden_version_is_restored_whole(s3_env):
    # Registry.delete hides a version, and puts it back if a racing promotion won.
    store, version = ObjectStore(s3_env["url"]), "20260101-000000-beef"
    commit_version(store, version, "first")
    marker = stored(s3_env, f"{version}/metadata.json")
    hidden = store.hide(version)
    assert store.committed() == []
    store.unhide(version, hidden)
    assert store.committed() == [version]
    assert stored(s3_env, f"{version}/metadata.json") == marker


def test_of_two_first_pointer_writes_only_one_lands(s3_env):
    one, other = ObjectStore(s3_env["url"]), ObjectStore(s3_env["url"])
    empty = one.read_pointer()
    assert empty.version is None and other.read_pointer() == empty
    assert one.swap_pointer(empty, "v1")
    assert not other.swap_pointer(empty, "v2")  # it read "no pointer": the server says 412
    assert other.read_pointer().version == "v1"


def test_a_swap_from_a_stale_read_is_refused_in_memory_too():
    # fsspec's memory:// has no conditional writes: the store compares, then writes.
    url = f"memory://stale-{time.time_ns()}/models"
    one, other = ObjectStore(url), ObjectStore(url)
    read = one.read_pointer()
    assert one.swap_pointer(read, "v1")
    assert not other.swap_pointer(read, "v2")
    assert other.read_pointer().version == "v1"


@pytest.mark.parametrize("code", ["PreconditionFailed", "ConditionalRequestConflict"])
def test_a_lost_conditional_write_is_a_lost_race_not_an_unreachable_store(code):
    # S3 answers 412 PreconditionFailed to a write whose condition no longer holds, and 409
    # ConditionalRequestConflict to one that raced another conditional write: both mean
    # "retry on fresh state". Any other error means the store cannot be reached.
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    def s3_error(name):
        raise translate_boto_error(ClientError({"Error": {"Code": name, "Message": "m"}}, "Put"))

    store = ObjectStore(f"memory://conflict-{time.time_ns()}/models")
    with pytest.raises(OSError) as lost:
        store.call("promote", s3_error, code)
    assert not isinstance(lost.value, StoreUnavailable)
    assert store.unavailable is None
    with pytest.raises(StoreUnavailable, match="cannot be reached to promote"):
        store.call("promote", s3_error, "AccessDenied")


def test_an_unreachable_store_with_nothing_cached_has_no_active_version(monkeypatch):
    store = ObjectStore(f"memory://gone-{time.time_ns()}/models")

    monkeypatch.setattr(store.fs, "cat_file", refused)
    read = store.read_pointer()
    assert read.version is None
    assert "cannot be reached to read the active version" in store.unavailable
    with pytest.raises(StoreUnavailable):
        store.swap_pointer(read, "v1")


def test_an_unreachable_store_gives_the_last_pointer_seen_and_refuses_a_swap(monkeypatch):
    store = ObjectStore(f"memory://gone-{time.time_ns()}/models")
    assert store.swap_pointer(store.read_pointer(), "v1")
    assert store.read_pointer().version == "v1"  # seen, so kept on this machine

    monkeypatch.setattr(store.fs, "cat_file", refused)
    read = store.read_pointer()
    assert read.version == "v1"
    with pytest.raises(StoreUnavailable):
        store.swap_pointer(read, "v2")


def test_a_delete_cut_off_midway_leaves_no_evaluation_listed(monkeypatch):
    # Registry.delete removes a version's evaluations with `remove`: their commit markers
    # first, so a delete cut off after them leaves none listed, half-deleted or not.
    store = ObjectStore(f"memory://cut-{time.time_ns()}/models")
    evaluations = store.substore(f"{EVALUATIONS_DIR}/v1")
    evaluations.commit_record("e1", '{"created": "2026-01-01T00:00:00"}')
    rm = store.fs.rm

    def cut_off_after_the_markers(path, recursive=False, **kwargs):
        if recursive:
            raise ConnectionResetError("connection reset")
        return rm(path, recursive=recursive, **kwargs)

    monkeypatch.setattr(store.fs, "rm", cut_off_after_the_markers)
    with pytest.raises(StoreUnavailable):
        store.remove(f"{EVALUATIONS_DIR}/v1")
    assert evaluations.committed() == []


def test_deleted_evaluations_stay_deleted_when_the_store_becomes_unreachable(monkeypatch):
    # Unreachable, a store lists what this machine cached: a deletion removes that copy too.
    store = ObjectStore(f"memory://gone-{time.time_ns()}/models")
    evaluations = store.substore(f"{EVALUATIONS_DIR}/v1")
    evaluations.commit_record("e1", '{"created": "2026-01-01T00:00:00"}')
    store.remove(f"{EVALUATIONS_DIR}/v1")

    monkeypatch.setattr(store.fs, "glob", refused)
    assert evaluations.committed() == []
    assert "cannot be reached" in evaluations.unavailable


def test_a_version_is_deleted_from_any_machine_and_stays_deleted_offline(monkeypatch, tmp_path):
    url = f"memory://delete-{time.time_ns()}/models"
    here = ObjectStore(url)
    commit_version(here, "v1", "first")  # cached on this machine by its commit
    commit_version(here, "v2", "second")
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "another-machine"))
    elsewhere = ObjectStore(url)  # has cached nothing
    with elsewhere.exclusive():
        elsewhere.purge("v2", elsewhere.hide("v2"))
    assert elsewhere.committed() == ["v1"]
    with here.exclusive():
        here.purge("v1", here.hide("v1"))

    monkeypatch.setattr(here.fs, "glob", refused)
    assert here.committed() == ["v2"]  # what this machine cached, less what it deleted


def registry_of_two(url: str) -> Registry:
    registry = Registry(url)
    commit_version(registry.store, "v1", "first")
    commit_version(registry.store, "v2", "second")
    registry.promote("v1")
    return registry


def test_a_delete_fences_off_a_promotion_that_read_the_pointer_before_it():
    registry = registry_of_two(f"memory://fence-{time.time_ns()}/models")
    other = ObjectStore(registry.root)
    stale = other.read_pointer()  # another writer's promotion of v2 read the pointer...
    registry.delete("v2")
    assert not other.swap_pointer(stale, "v2")  # ...and cannot land once v2 is deleted
    assert registry.active_version() == "v1" and registry.versions() == ["v1"]


def test_a_delete_that_loses_to_a_racing_promotion_puts_the_version_back(monkeypatch):
    registry = registry_of_two(f"memory://race-{time.time_ns()}/models")
    other = ObjectStore(registry.root)
    stale = other.read_pointer()
    hide = registry.store.hide

    def hide_then_lose_the_race(version):
        hidden = hide(version)
        assert other.swap_pointer(stale, version)  # the promotion lands just after the hide
        return hidden

    monkeypatch.setattr(registry.store, "hide", hide_then_lose_the_race)
    with pytest.raises(RegistryError, match="Version v2 is active and cannot be deleted"):
        registry.delete("v2")
    assert registry.active_version() == "v2"
    assert registry.versions() == ["v2", "v1"]
    assert json.loads(registry.store.read_metadata("v2")) == {"label": "second"}


def test_rewriting_the_pointer_as_it_was_still_fences_a_stale_read(s3_env):
    # Registry.delete's fence rewrites the pointer with the version it already names: a
    # promotion that read the pointer before must still fail its swap.
    store = ObjectStore(s3_env["url"])
    assert store.swap_pointer(store.read_pointer(), "v1")
    stale = ObjectStore(s3_env["url"]).read_pointer()
    assert store.swap_pointer(store.read_pointer(), "v1")
    assert not ObjectStore(s3_env["url"]).swap_pointer(stale, "v2")
    assert store.read_pointer().version == "v1"


def test_a_swap_from_a_stale_read_is_refused(s3_env, fasttext_source):
    registry = Registry(s3_env["url"])
    first, second = save_copies(registry, fasttext_source)
    one, other = ObjectStore(s3_env["url"]), ObjectStore(s3_env["url"])
    read = one.read_pointer()
    assert read.version == first and read.token == other.read_pointer().token
    assert one.swap_pointer(read, second)
    assert not other.swap_pointer(read, first)  # its read is stale: the S3 server says 412
    assert registry.active_version() == second


def test_racing_promotions_all_land_and_leave_a_valid_pointer(s3_env, fasttext_source):
    registry = Registry(s3_env["url"])
    versions = save_copies(registry, fasttext_source, n=3)
    errors, done = [], []

    def promote_many(version):
        replica = Registry(s3_env["url"])  # each writer its own registry, as processes are
        try:
            for _ in range(8):
                replica.promote(version)
                done.append(version)
        except Exception as exc:  # noqa: BLE001  collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=promote_many, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(done) == 24
    assert registry.active_version() in versions


def test_delete_racing_a_promotion_never_leaves_the_pointer_dangling(s3_env, fasttext_source):
    registry = Registry(s3_env["url"])
    keep, *doomed = save_copies(registry, fasttext_source, n=6)
    stop = threading.Event()

    def promoter():
        replica = Registry(s3_env["url"])
        while not stop.is_set():
            for version in doomed:
                with contextlib.suppress(RegistryError):  # refused once it is deleted
                    replica.promote(version)
            replica.promote(keep)

    thread = threading.Thread(target=promoter)
    thread.start()
    deleted = []
    try:
        deadline = time.monotonic() + 30
        while len(deleted) < len(doomed) and time.monotonic() < deadline:
            for version in set(doomed) - set(deleted):
                try:
                    registry.delete(version)
                    deleted.append(version)
                except RegistryError:
                    pass  # active at that moment
                assert Registry(s3_env["url"]).active_version() in registry.versions()
    finally:
        stop.set()
        thread.join()
    assert sorted(deleted) == sorted(doomed)
    assert registry.active_version() == keep and registry.versions() == [keep]


def test_an_unreachable_store_gives_one_message_and_serves_the_cache(
    s3_env, fasttext_source, monkeypatch
):
    registry = Registry(s3_env["url"])
    (version,) = save_copies(registry, fasttext_source, n=1)
    online = load_predictor(s3_env["url"]).predict(TEXTS)  # the files are cached here now
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    s3fs.S3FileSystem.clear_instance_cache()
    offline = Registry(s3_env["url"])
    started = time.monotonic()
    assert offline.versions() == [version] and offline.active_version() == version
    assert time.monotonic() - started < 30
    assert "cannot be reached" in offline.unavailable and "AWS_ENDPOINT_URL" in offline.unavailable
    assert load_predictor(s3_env["url"]).predict(TEXTS) == online  # served from the cache
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        offline.promote(version)


def test_wrong_credentials_give_a_clear_message(s3_env, monkeypatch):
    monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", 0)  # check keys
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    s3fs.S3FileSystem.clear_instance_cache()
    registry = Registry(s3_env["url"])
    assert registry.versions() == []
    assert "AWS_ACCESS_KEY_ID" in registry.unavailable
    result = run_cli("-m", "pipeline", "models", models_dir=s3_env["url"])
    assert result.returncode == 1 and "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_cli_writes_to_s3_not_a_folder_named_s3(s3_env, tmp_path):
    result = run_cli(
        "train.py", "--data", str(config.SAMPLE_DATA_PATH), "--epochs", "1",
        "--models-dir", s3_env["url"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not (config.PROJECT_ROOT / "s3:").exists()
    (version,) = Registry(s3_env["url"]).versions()
    assert f"{version}/metadata.json" in keys(s3_env)


def test_memory_store_keeps_the_registry_rules(tmp_path, monkeypatch, fasttext_source):
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    registry = Registry(f"memory://registry-{time.time_ns()}")
    first, second = save_copies(registry, fasttext_source)
    assert registry.versions() == [second, first] and registry.active_version() == first
    registry.promote(second)
    with pytest.raises(RegistryError, match="cannot be deleted"):
        registry.delete(second)
    registry.delete(first)
    assert registry.versions() == [second]
    meta = json.loads(registry.store.fs.cat_file(f"{registry.store.root}/{second}/metadata.json"))
    assert meta["version"] == second


def evaluation_keys(s3_env, version: str) -> list[str]:
    return [k for k in keys(s3_env) if k.startswith(f"{EVALUATIONS_DIR}/{version}/")]


def test_evaluations_on_s3_are_kept_apart_committed_last_and_deleted_with_the_version(
    s3_env, fasttext_source, monkeypatch
):
    registry = Registry(s3_env["url"])
    keep, version = save_copies(registry, fasttext_source)
    record = evaluate_version(registry, version, config.SAMPLE_DATA_PATH)
    evaluation = record["evaluation"]
    assert evaluation_keys(s3_env, version) == [
        f"{EVALUATIONS_DIR}/{version}/{evaluation}/metadata.json",
        f"{EVALUATIONS_DIR}/{version}/{evaluation}/predictions.csv",
    ]
    replica = Registry(s3_env["url"])  # another process, with its own cache
    assert replica.versions() == [version, keep]  # the evaluation is no version
    assert replica.evaluations(version) == [record]
    downloaded = load_evaluation_predictions(replica, version, evaluation)
    assert len(downloaded) == 700
    pd.testing.assert_frame_equal(
        downloaded, load_evaluation_predictions(registry, version, evaluation)
    )

    # Saves that die mid-way, at the predictions' upload or at the commit marker's: no
    # reader lists a second evaluation (the second leaves an orphaned predictions.csv).
    real_put, real_call = ObjectStore._put, ObjectStore.call

    def lose_the_marker(store, key, body, create_only=False, **condition):
        if key.endswith("/metadata.json") and f"/{EVALUATIONS_DIR}/" in key:
            raise OSError("connection reset")
        return real_put(store, key, body, create_only, **condition)

    def lose_the_predictions(store, action, function, *args, **kwargs):
        if action.startswith("upload") and str(args[-1]).endswith("/predictions.csv"):
            raise OSError("connection reset")
        return real_call(store, action, function, *args, **kwargs)

    for name, target, broken in [
        ("call", ObjectStore, lose_the_predictions),
        ("_put", ObjectStore, lose_the_marker),
    ]:
        monkeypatch.setattr(target, name, broken)
        with pytest.raises(RegistryError, match="connection reset"):
            evaluate_version(registry, version, config.SAMPLE_DATA_PATH)
        monkeypatch.undo()
        listed = Registry(s3_env["url"]).evaluations(version)
        assert [r["evaluation"] for r in listed] == [evaluation]
    assert len(evaluation_keys(s3_env, version)) == 3  # the orphaned predictions.csv

    registry.delete(version)
    assert evaluation_keys(s3_env, version) == []
    assert registry.versions() == [keep]


def test_copy_seeds_a_bucket_with_the_shipped_models(s3_env, tmp_path):
    source = tmp_path / "models"
    shutil.copytree(config.DEFAULT_MODELS_DIR, source)
    result = run_cli("-m", "pipeline", "copy", "--models-dir", str(source), "--to", s3_env["url"])
    assert result.returncode == 0, result.stderr
    shipped, bucket = Registry(source), Registry(s3_env["url"])
    assert bucket.versions() == shipped.versions()
    assert bucket.active_version() == shipped.active_version()
    for version in shipped.versions():
        meta = bucket.metadata(version)
        assert meta["metrics"] == shipped.metadata(version)["metrics"]
        local = shipped.model_file(version).read_bytes()
        assert hashlib.sha256(local).hexdigest() == meta["files"]["model.keras"]["sha256"]
        # Their evaluations on the sample go too, so the bucket's views have them.
        assert bucket.evaluations(version) == shipped.evaluations(version) != []
    again = run_cli("-m", "pipeline", "copy", "--models-dir", str(source), "--to", s3_env["url"])
    assert "already there" in again.stderr
