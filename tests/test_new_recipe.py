"""A new recipe is one module plus one registration: the command line, the Retrain form,
the sweep space and the time estimate offer it with its own settings, and it trains and
saves a version that the registry lists and the predictor loads."""

import json

import pytest
import tiny_recipe
from streamlit.testing.v1 import AppTest

import train as train_cli
from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.errors import ParameterError
from pipeline.estimate import expected_training_seconds
from pipeline.params import architectures, param_specs, resolve_params
from pipeline.predict import load_predictor
from pipeline.recipes import register, register_modules, unregister
from pipeline.registry import Registry
from pipeline.sweep.space import build_space, default_searched
from pipeline.train import train_and_save
from ui.job_view import get_runner

NAME = tiny_recipe.NAME
APP = str(config.PROJECT_ROOT / "streamlit_app.py")


@pytest.fixture
def registered(monkeypatch):
    register(tiny_recipe.RECIPE)
    # The same registration for the processes this one starts (the dashboard's training
    # worker): they read it when their catalog loads.
    monkeypatch.setenv(config.RECIPE_MODULES_ENV, "tiny_recipe")
    yield tiny_recipe.RECIPE
    unregister(NAME)


def test_a_recipe_module_named_in_the_environment_joins_the_catalog(monkeypatch):
    try:
        register_modules(" tiny_recipe ,")
        assert NAME in architectures()
    finally:
        unregister(NAME)
    with pytest.raises(ParameterError, match="names 'pipeline.text', which declares no recipe"):
        register_modules("pipeline.text")


def test_the_recipe_is_unknown_until_registered():
    assert NAME not in architectures()
    with pytest.raises(ParameterError, match="architecture must be one of"):
        resolve_params({"architecture": NAME})


def test_its_settings_reach_training_typed_and_the_sweep_space(registered):
    assert NAME in architectures()
    params = resolve_params({"architecture": NAME, "max_words": "50", "final_refit": "yes"})
    assert isinstance(params, tiny_recipe.BagOfWordsParams)
    assert (params.max_words, params.epochs, params.final_refit) == (50, 3, True)
    assert params.to_dict()["final_refit"] == "yes"  # the form kept in metadata
    with pytest.raises(ParameterError, match="max_words must be 10 to 5000"):
        resolve_params({"architecture": NAME, "max_words": 5})
    assert "max_words" in default_searched(NAME)
    assert build_space(NAME)["max_words"].log
    assert "max_words" in {spec.name for spec in param_specs() if spec.applies_to(NAME)}


def test_train_py_offers_it_and_trains_and_saves_it(registered, tmp_path, capsys):
    parser = train_cli.build_parser()
    help_text = " ".join(parser.format_help().split())
    assert f"{NAME}: a bag of words" in help_text
    assert "--max-words INT words kept by the bag-of-words vectorizer (default: 300" in help_text
    code = train_cli.main(
        ["--data", str(config.SAMPLE_DATA_PATH), "--arch", NAME, "--max-words", "80",
         "--models-dir", str(tmp_path), "--json"]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    registry = Registry(tmp_path)
    [listed] = registry.list()
    assert listed["version"] == result["version"] and listed["architecture"] == NAME
    assert listed["params"]["max_words"] == 80 and listed["extra_training_rows"] == 0
    assert listed["bag"] == 80  # the recipe's own extras
    predictor = load_predictor(tmp_path)
    assert predictor.version == result["version"]
    assert predictor.predict_proba(["what a great night", "awful"]).shape == (2, 3)
    seconds, basis = expected_training_seconds(Registry(tmp_path / "empty"), NAME, 1000)
    assert seconds == pytest.approx(0.001 * 700) and basis == "on a 2-core machine"


def test_the_retrain_form_offers_it_with_its_settings_and_trains_it(
    registered, tmp_path, monkeypatch
):
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    models = tmp_path / "models"
    # The app needs one version to serve; a tiny one of this very recipe.
    train_and_save(data, resolve_params({"architecture": NAME, "epochs": 1}), Registry(models))
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert NAME in at.selectbox(key="retrain_architecture").options
    at.selectbox(key="retrain_architecture").select(NAME).run()
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    bag = at.number_input(key=f"param_{NAME}_max_words")
    assert (bag.value, bag.min, bag.max) == (300, 10, 5000)
    assert f"param_{NAME}_vocab_size" not in keys  # another recipe's setting
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    assert any(f"A {NAME} run on these 700 rows" in c.value for c in at.caption)
    at.number_input(key=f"param_{NAME}_max_words").set_value(120)
    at.button(key="FormSubmitter:retrain_form-Start training").click().run()
    try:
        state = get_runner().current.wait(timeout=300)
    finally:
        job = get_runner().current
        if job is not None and job.running:
            job.cancel()
    assert state["status"] == "succeeded", state["error"]
    saved = Registry(models).metadata(state["result"]["version"])
    assert saved["architecture"] == NAME and saved["params"]["max_words"] == 120
