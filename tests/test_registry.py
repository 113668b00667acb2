"""The registry: versions, the active pointer, promote/delete rules and atomic saves."""

import hashlib
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import pytest

from pipeline.errors import RegistryError
from pipeline.params import resolve_params
from pipeline.predict import load_model
from pipeline.recipes.ngram import build_classifier, build_end_to_end, build_text_encoder
from pipeline.registry import ACTIVE_FILE, Registry, local


def tiny_model():
    params = resolve_params({"vocab_size": 500, "sequence_length": 8})
    cleaner, vectorizer = build_text_encoder(params)
    vectorizer.adapt(cleaner(np.array(["good show", "bad show", "fine"])))
    return build_end_to_end(cleaner, vectorizer, build_classifier(params, 2), params)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def raising(error: Exception):
    """A stand-in for a file operation that fails with `error` (a full disk, a busy device)."""

    def fail(*args, **kwargs):
        raise error

    return fail


def save(registry, model, promote=False, **extra):
    return registry.save(model, {"labels": ["bad", "good"], **extra}, promote=promote)


def test_first_version_becomes_active_and_later_ones_do_not(tmp_path, model):
    registry = Registry(tmp_path)
    first = save(registry, model)
    second = save(registry, model)
    assert registry.active_version() == first
    assert registry.versions() == [second, first]  # newest first, even within one second
    assert [row["active"] for row in registry.list()] == [False, True]


def test_saved_version_has_metadata_and_loads_with_its_vocabulary(tmp_path, model):
    registry = Registry(tmp_path)
    version = save(registry, model, note="x")
    meta = registry.metadata(version)
    assert meta["version"] == version and meta["note"] == "x"
    assert datetime.fromisoformat(meta["created"]).utcoffset() == timedelta(0)  # UTC, said so
    model_bytes = registry.model_file(version).read_bytes()  # what a download is checked by:
    assert meta["files"] == {
        "model.keras": {"size": len(model_bytes), "sha256": hashlib.sha256(model_bytes).hexdigest()}
    }
    loaded = load_model(registry, version)
    texts = np.array(["good show", "never seen"], dtype=object)
    np.testing.assert_allclose(loaded(texts), model(texts), atol=1e-6)


def test_promote_moves_the_pointer(tmp_path, model):
    registry = Registry(tmp_path)
    first, second = save(registry, model), save(registry, model)
    registry.promote(second)
    assert registry.active_version() == second
    assert (tmp_path / ACTIVE_FILE).read_text().strip() == second
    registry.promote(first)
    assert registry.active_version() == first


def test_save_with_promote_makes_the_new_version_active(tmp_path, model):
    registry = Registry(tmp_path)
    save(registry, model)
    newest = save(registry, model, promote=True)
    assert registry.active_version() == newest


def test_the_active_version_cannot_be_deleted(tmp_path, model):
    registry = Registry(tmp_path)
    first, second = save(registry, model), save(registry, model)
    with pytest.raises(RegistryError, match="active and cannot be deleted"):
        registry.delete(first)
    registry.delete(second)
    assert registry.versions() == [first]


def test_unknown_version_lists_the_available_ones(tmp_path, model):
    registry = Registry(tmp_path)
    version = save(registry, model)
    with pytest.raises(RegistryError, match=f"Unknown model version 'v9'.*{version}"):
        load_model(registry, "v9")
    with pytest.raises(RegistryError, match="Unknown"):
        registry.promote("v9")


def test_empty_registry_says_how_to_train(tmp_path):
    with pytest.raises(RegistryError, match="python train.py"):
        Registry(tmp_path / "none").resolve()


def test_failure_mid_save_leaves_no_version_and_keeps_the_active_one(tmp_path, model, monkeypatch):
    registry = Registry(tmp_path)
    good = save(registry, model)
    # The metadata write, after the model file:
    monkeypatch.setattr(json, "dump", raising(OSError("disk full")))
    with pytest.raises(RegistryError) as error:
        save(registry, model, promote=True)
    assert str(error.value) == f"Could not save the model in {tmp_path}: disk full"
    assert registry.versions() == [good]
    assert registry.active_version() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_a_folder_that_cannot_be_written_is_said_before_anything_is_saved(
    tmp_path, model, monkeypatch
):
    registry = Registry(tmp_path)

    monkeypatch.setattr(registry.store, "staging", raising(OSError("read-only file system")))
    with pytest.raises(RegistryError) as error:
        save(registry, model)
    assert str(error.value) == f"Could not save the model in {tmp_path}: read-only file system"
    assert registry.store.committed() == []


def test_a_delete_that_fails_says_so_and_keeps_the_version(tmp_path, model, monkeypatch):
    registry = Registry(tmp_path)
    first, second = save(registry, model), save(registry, model)

    monkeypatch.setattr(registry.store, "hide", raising(OSError("device or resource busy")))
    with pytest.raises(RegistryError) as error:
        registry.delete(second)
    assert str(error.value) == (
        f"Could not delete the version in {tmp_path}: device or resource busy"
    )
    assert registry.versions() == [second, first]


def test_extra_files_may_not_replace_the_versions_own_or_leave_its_folder(tmp_path, model):
    registry = Registry(tmp_path)
    for files in ({"model.keras": b"x"}, {"metadata.json": b"{}"}, {"../outside.txt": b"x"}):
        with pytest.raises(ValueError, match="invalid extra file names"):
            registry.save(model, {"labels": ["bad", "good"]}, files=files)
    assert registry.versions() == []


def test_unreadable_model_file_is_reported_as_a_registry_error(tmp_path, model):
    registry = Registry(tmp_path)
    version = save(registry, model)
    (tmp_path / version / "model.keras").write_bytes(b"not a zip")
    with pytest.raises(RegistryError, match="could not be loaded"):
        load_model(registry, version)


HOLD_LOCK = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_change_waits_for_another_writers_lock_then_says_so(tmp_path, model, monkeypatch):
    registry = Registry(tmp_path)
    first, second = save(registry, model), save(registry, model)
    lock = tmp_path / local.LOCK_FILE
    assert lock.is_file()  # in the registry's folder, where every writer looks for it
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    pool = ThreadPoolExecutor(1)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(local, "LOCK_TIMEOUT_SECONDS", 0.5)
        error = pool.submit(registry.promote, second).exception(timeout=30)
    finally:
        holder.kill()
        holder.wait()
        pool.shutdown()
    assert isinstance(error, RegistryError)
    assert str(error).startswith(f"Could not promote the version in {tmp_path}")
    assert registry.active_version() == first


def test_a_pointer_that_keeps_changing_gives_up_with_a_message(tmp_path, model, monkeypatch):
    registry = Registry(tmp_path)
    first, second = save(registry, model), save(registry, model)
    monkeypatch.setattr(registry.store, "swap_pointer", lambda pointer, version: False)
    with pytest.raises(RegistryError) as error:
        registry.promote(second)
    assert str(error.value) == (
        f"The active version in {tmp_path} kept changing under 20 attempts to update it; try again."
    )
    assert registry.active_version() == first


def test_a_promotion_that_cannot_write_says_so(tmp_path, model, monkeypatch):
    registry = Registry(tmp_path)
    first, second = save(registry, model), save(registry, model)

    monkeypatch.setattr(registry.store, "swap_pointer", raising(OSError("disk full")))
    with pytest.raises(RegistryError) as error:
        registry.promote(second)
    assert str(error.value) == f"Could not promote the version in {tmp_path}: disk full"
    assert registry.active_version() == first


def test_copying_a_version_in_keeps_it_whole_and_activates_nothing(tmp_path, model):
    source = Registry(tmp_path / "source")
    first = save(source, model)
    other_weights = tiny_model()  # so that copying the wrong version's model shows
    second = source.save(
        other_weights, {"labels": ["bad", "good"]}, files={"log.txt": b"epoch 1\n"}
    )
    evaluation = source.save_evaluation(second, {"data": "sample"}, {"scores.csv": b"a,b\n"})
    target = Registry(tmp_path / "target")
    own = save(target, model)
    assert target.copy_in(source, second) is True
    assert target.active_version() == own  # the copy command promotes, when it should
    assert target.versions() == [own, second]
    assert target.metadata(second) == source.metadata(second)
    copied = target.model_file(second).read_bytes()
    assert copied == source.model_file(second).read_bytes() != source.model_file(first).read_bytes()
    assert target.version_file(second, "log.txt").read_bytes() == b"epoch 1\n"
    assert target.evaluations(second) == source.evaluations(second)
    assert target.evaluation_file(second, evaluation, "scores.csv").read_bytes() == b"a,b\n"
    assert target.copy_in(source, second) is False  # there already: nothing copied
    empty = Registry(tmp_path / "empty")
    empty.copy_in(source, first)
    assert empty.versions() == [first] and empty.active_version() is None


def test_versions_written_at_once_into_one_registry_all_land(tmp_path, model):
    source = Registry(tmp_path / "source")
    versions = [save(source, model) for _ in range(4)]
    target = Registry(tmp_path / "target")
    start = threading.Barrier(4)

    def copy(version):
        start.wait()
        return target.copy_in(source, version)

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(copy, versions)) == [True] * 4
    assert sorted(target.versions()) == sorted(versions)


def test_an_evaluation_that_cannot_be_saved_says_so_and_leaves_none(tmp_path, model, monkeypatch):
    registry = Registry(tmp_path)
    version = save(registry, model)
    with monkeypatch.context() as patch:
        patch.setattr(json, "dump", raising(OSError("disk full")))  # the record, after the files
        with pytest.raises(RegistryError) as error:
            registry.save_evaluation(version, {"data": "sample"}, {"scores.csv": b"a\n"})
    assert str(error.value) == f"Could not save the evaluation in {tmp_path}: disk full"
    store = registry.store.substore(f".evaluations/{version}")
    with monkeypatch.context() as patch:
        patch.setattr(type(store), "staging", raising(OSError("disk full")))
        with pytest.raises(RegistryError) as error:
            registry.save_evaluation(version, {"data": "sample"}, {"scores.csv": b"a\n"})
    assert str(error.value) == f"Could not save the evaluation in {tmp_path}: disk full"
    assert registry.evaluations(version) == []


def test_evaluations_saved_at_once_all_land(tmp_path, model):
    registry = Registry(tmp_path)
    version = save(registry, model)
    start = threading.Barrier(4)

    def evaluate(i):
        start.wait()
        return registry.save_evaluation(version, {"data": f"d{i}"}, {"scores.csv": b"a\n"})

    with ThreadPoolExecutor(4) as pool:
        saved = list(pool.map(evaluate, range(4)))
    records = registry.evaluations(version)
    assert sorted(record["evaluation"] for record in records) == sorted(saved)
    for record in records:
        assert datetime.fromisoformat(record["created"]).utcoffset() == timedelta(0)


def test_copying_again_brings_the_evaluations_not_there_yet(tmp_path, model):
    source = Registry(tmp_path / "source")
    version = save(source, model)
    older = source.save_evaluation(version, {"data": "a"}, {"scores.csv": b"a\n"})
    newer = source.save_evaluation(version, {"data": "b"}, {"scores.csv": b"b\n"})
    target = Registry(tmp_path / "target")
    target.copy_in(source, version)
    evaluations = target.store.substore(f".evaluations/{version}")
    with evaluations.exclusive():  # the target now holds the newer one but not the older
        evaluations.purge(older, evaluations.hide(older))
    assert [record["evaluation"] for record in target.evaluations(version)] == [newer]
    assert target.copy_in(source, version) is False  # the version was there already
    assert [record["evaluation"] for record in target.evaluations(version)] == [newer, older]
