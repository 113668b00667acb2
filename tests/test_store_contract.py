"""Both stores keep the storage contract the registry relies on (registry.store.Store)."""

import inspect

import pytest

from pipeline.registry import open_store
from pipeline.registry.local import LocalStore
from pipeline.registry.objects import ObjectStore
from pipeline.registry.store import Store

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
        "commit", "discard", "hide", "unhide", "purge", "substore", "remove", "read_pointer",
        "swap_pointer",
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
