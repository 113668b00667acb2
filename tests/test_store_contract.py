"""Both stores keep the storage contract the registry relies on (registry.store.Store)."""

import inspect
import os
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.registry import open_store
from pipeline.registry.local import LOCK_FILE, LocalStore
from pipeline.registry.objects import ObjectStore
from pipeline.registry.store import (
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    Store,
    model_file_problem,
    pointer_text,
    pointer_version,
)

CONTRACT = {
    name: member
    for name, member in vars(Store).items()
    if callable(member) and not name.startswith("_")
}


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(str(tmp_path / "models"))
    return open_store(f"memory://contract-{tmp_path.name}/models")


def test_the_contract_lists_every_method_the_registry_calls():
    assert set(CONTRACT) == {
        "exclusive", "committed", "read_metadata", "version_file", "model_problem", "staging",
        "commit", "discard", "commit_record", "hide", "unhide", "purge", "substore", "remove",
        "read_pointer", "swap_pointer",
    }  # fmt: skip


def test_each_store_satisfies_the_contract(store):
    assert isinstance(store, Store)  # every method and attribute is there
    assert isinstance(store.substore(".evaluations/v1"), type(store))
    for name in ("location", "work_dir", "remote", "unavailable"):
        assert hasattr(store, name), name


@pytest.mark.parametrize("kind", [LocalStore, ObjectStore])
@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_each_method_takes_the_contracts_arguments(kind, name):
    wanted = inspect.signature(CONTRACT[name])
    got = inspect.signature(getattr(kind, name))
    assert list(got.parameters) == list(wanted.parameters), (kind.__name__, name)
    for parameter in wanted.parameters.values():
        assert got.parameters[parameter.name].default == parameter.default, (kind, name)


def test_a_record_is_committed_listed_read_and_deleted_like_a_version(store):
    labels = store.substore(".labels")
    labels.commit_record("r1", '{"created": "2026-01-01T00:00:00", "label": "x"}')
    labels.commit_record("r2", '{"created": "2026-01-02T00:00:00", "label": "y"}')
    assert labels.committed() == ["r2", "r1"]  # newest first
    assert '"label": "y"' in labels.read_metadata("r2")
    assert store.committed() == []  # never taken for a model version
    with labels.exclusive():
        hidden = labels.hide("r1")
        assert labels.committed() == ["r2"]  # hidden: a crash now leaves it unlisted
        labels.unhide("r1", hidden)
        assert labels.committed() == ["r2", "r1"]
        labels.purge("r1", labels.hide("r1"))
    assert labels.committed() == ["r2"]


def test_records_are_listed_by_creation_time_then_id_and_those_without_one_last(store):
    records = store.substore(".labels")
    records.commit_record("b-old", '{"created": "2026-01-01T00:00:00"}')
    records.commit_record("a-new", '{"created": "2026-01-02T00:00:00"}')
    records.commit_record("c-new", '{"created": "2026-01-02T00:00:00"}')  # same time: by id
    records.commit_record("z-no-time", '{"label": "saved before versions had a time"}')
    records.commit_record("y-unreadable", "{not json")  # never taken for the newest
    assert records.committed() == ["c-new", "a-new", "b-old", "z-no-time", "y-unreadable"]


def test_records_committed_at_once_from_many_threads_all_land(store):
    records = store.substore(".labels")
    start = threading.Barrier(8)

    def commit(i):
        start.wait()
        records.commit_record(f"r{i}", f'{{"created": "2026-01-01T00:00:0{i}"}}')

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(commit, range(8)))
    assert records.committed() == [f"r{i}" for i in reversed(range(8))]


def test_a_record_that_cannot_be_committed_leaves_nothing_staged(tmp_path):
    records = LocalStore(tmp_path / "labels")
    records.commit_record("r1", '{"label": "first"}')
    with pytest.raises(OSError):
        records.commit_record("r1", '{"label": "second"}')  # the folder is there already
    assert sorted(p.name for p in records.root.iterdir()) == [LOCK_FILE, "r1"]
    assert "first" in records.read_metadata("r1")


def test_a_swap_from_a_stale_read_is_refused(store):
    with store.exclusive():  # as the registry holds it for every change
        read = store.read_pointer()
        assert read.version is None
        assert store.swap_pointer(read, "v1")
        assert not store.swap_pointer(read, "v2")  # the pointer changed since `read`
        assert store.read_pointer().version == "v1"
        assert store.swap_pointer(store.read_pointer(), "v2")
    assert store.read_pointer().version == "v2"


def test_the_pointers_text_names_the_version_on_its_first_line():
    assert pointer_version(pointer_text("v1")) == "v1"
    assert pointer_version(pointer_text("v1", nonce="n1")) == "v1"
    assert pointer_text("v1", nonce="n1") != pointer_text("v1", nonce="n2")  # a new ETag
    assert pointer_version("  v1  \n# written by hand\n") == "v1"
    for empty in ("", "\n", "  \n\n"):
        assert pointer_version(empty) is None, repr(empty)


def test_a_commit_sweeps_what_killed_saves_left_and_spares_a_save_in_progress(tmp_path):
    store = LocalStore(tmp_path / "models")
    store.root.mkdir()
    killed_save = store.root / f"{TEMP_PREFIX}20260101-000000-dead"
    killed_save.mkdir()
    (killed_save / "model.keras").write_bytes(b"half")
    killed_pointer_write = store.root / f"{TEMP_PREFIX}ACTIVE-dead"
    killed_pointer_write.write_text("v0\n")
    long_ago = time.time() - STALE_TEMP_SECONDS - 60
    for entry in (killed_save, killed_pointer_write):
        os.utime(entry, (long_ago, long_ago))
    in_progress = store.root / f"{TEMP_PREFIX}20260101-000001-live"
    in_progress.mkdir()
    store.commit_record("r1", "{}")
    assert sorted(p.name for p in store.root.iterdir()) == [LOCK_FILE, in_progress.name, "r1"]


def test_a_model_file_is_whole_only_as_a_zip_with_the_parts_keras_writes(tmp_path):
    path = tmp_path / "model.keras"
    assert model_file_problem(path) == "model.keras is missing"
    path.write_bytes(b"not a zip")
    assert model_file_problem(path).startswith("model.keras is unreadable (")
    for parts, problem in [
        ({"config.json"}, "model.keras lacks model.weights.h5"),
        (set(), "model.keras lacks config.json, model.weights.h5"),
        ({"config.json", "model.weights.h5", "metadata.json"}, None),
    ]:
        with zipfile.ZipFile(path, "w") as archive:
            for part in parts:
                archive.writestr(part, "{}")
        assert model_file_problem(path) == problem, parts
