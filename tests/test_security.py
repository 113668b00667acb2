"""Security: safe model loading only, no model uploads, secrets never shown or logged."""

import json
import logging
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.backend import keras
from pipeline.errors import RegistryError
from pipeline.predict import load_model
from pipeline.registry import METADATA_FILE, MODEL_FILE, Registry

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
SECRET = "s3cret-Zq81-never-shown"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def every_proto_text(at: AppTest) -> str:
    """Everything the app sent to the page: every element's protobuf, as text."""
    texts, nodes = [], [at._tree]
    while nodes:
        node = nodes.pop()
        proto = getattr(node, "proto", None)
        if proto is not None:
            texts.append(str(proto))
        children = getattr(node, "children", {})
        nodes.extend(children.values() if isinstance(children, dict) else children)
    return "\n".join(texts)


def test_the_admin_password_is_never_shown_or_logged(monkeypatch, app_models_dir, caplog):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(app_models_dir))
    caplog.set_level(logging.DEBUG)
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["admin_password"] = SECRET
    at.run()
    pages = [every_proto_text(at)]
    for typed in ("wrong", SECRET):
        at.text_input(key="admin_password_input").input(typed).run()
        pages.append(every_proto_text(at))
    assert "Admin actions unlocked" in pages[-1]  # the right password was taken...
    assert "Admin actions unlocked" not in pages[-2]
    for page in pages:  # ...and never sent back to the page
        assert SECRET not in page
    assert SECRET not in caplog.text


def test_no_uploader_in_the_app_accepts_anything_but_csv(monkeypatch, app_models_dir):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(app_models_dir))
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.radio(key="retrain_source").set_value("Upload a CSV").run()
    uploaders = at.get("file_uploader")
    assert len(uploaders) == 2  # Batch, and the Retrain upload
    for uploader in uploaders:
        assert list(uploader.proto.type) == [".csv"], uploader.proto.label


def test_a_model_file_with_code_in_it_is_refused_by_safe_mode(tmp_path):
    # A Lambda layer carries Python bytecode: loading it would run code. safe_mode refuses.
    inputs = keras.Input(shape=(1,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    model = keras.Model(inputs, outputs)
    version = tmp_path / "20260101-000000-beef"
    version.mkdir()
    model.save(version / MODEL_FILE)
    (version / METADATA_FILE).write_text(json.dumps({"labels": ["a", "b"]}))
    registry = Registry(tmp_path)
    with pytest.raises(RegistryError, match="safe_mode"):
        load_model(registry, version.name)


def test_keras_is_pinned_at_or_above_the_safe_loading_fixes():
    pins = (config.PROJECT_ROOT / "requirements.txt").read_text()
    pinned = re.search(r"^keras==(\d+)\.(\d+)", pins, flags=re.M)
    assert pinned and tuple(map(int, pinned.groups())) >= (3, 11)
    assert tuple(map(int, keras.__version__.split(".")[:2])) >= (3, 11)


def test_models_are_loaded_only_from_the_registry_folder(tmp_path, tiny_models_dir):
    # A version id is a folder name inside the registry, never a path to elsewhere.
    root = tmp_path / "models"
    shutil.copytree(tiny_models_dir, root)
    outside = Registry(tiny_models_dir).versions()[0]
    for sneaky in (f"../{outside}", str(tiny_models_dir / outside), "/etc/passwd"):
        with pytest.raises(RegistryError, match="Unknown model version"):
            load_model(Registry(root), sneaky)
