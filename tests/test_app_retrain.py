"""The Retrain tab and the admin guard, run for real with AppTest."""

import re
import time

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.analysis.predictions import load_predictions
from pipeline.baseline import baseline_metrics
from pipeline.data import load_labelled_data, split_data
from pipeline.errors import TrainingCancelled
from pipeline.evaluate import evaluate_predictions
from pipeline.params import param_specs, resolve_params
from pipeline.predict import load_predictor
from pipeline.registry import Registry
from pipeline.train import train_and_save
from ui.job_view import get_runner

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
# A duration as the tab writes one: "7 s", "about 1 s", "4 min 05 s", "about 8 min".
DURATION = re.compile(r"\b\d+(?:\.\d+)? ?(?:s|min)\b")


@pytest.fixture(autouse=True)
def fresh_state():
    st.cache_data.clear()
    yield
    job = get_runner().current
    if job is not None:
        job.cancel()
        job.wait(timeout=120)
    st.cache_data.clear()


@pytest.fixture
def models(tmp_path, app_models_dir):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(app_models_dir, root)
    return root


def shown(markdown: str) -> str:
    """The text a Markdown element shows: the app backslash-escapes the data it quotes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def open_app(monkeypatch, models_dir, password=None) -> AppTest:
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    if password:
        at.secrets["admin_password"] = password
    return at.run()


def submit(at: AppTest, **values) -> AppTest:
    arch = at.selectbox(key="retrain_architecture").value
    for name, value in values.items():
        kind = "selectbox" if isinstance(value, str) else "number_input"
        getattr(at, kind)(key=f"param_{arch}_{name}").set_value(value)
    return at.button(key="FormSubmitter:retrain_form-Start training").click().run()


def retrain(at: AppTest, **values) -> tuple[dict, float, float]:
    """Start a training from the form and wait for it: (its final state, click, end)."""
    clicked = time.time()
    submit(at, **values)
    state = get_runner().current.wait(timeout=300)
    ended = time.time()
    assert state["status"] == "succeeded", state["error"]
    at.run()
    assert not at.exception
    return state, clicked, ended


def retrain_tab(at: AppTest):
    return next(tab for tab in at.tabs if tab.label == "Retrain")


def texts_shown(tab) -> list[str]:
    """Every message, caption and metric of a tab, as the user reads them."""
    kinds = ("success", "info", "warning", "error", "caption", "markdown")
    texts = [element.value for kind in kinds for element in getattr(tab, kind)]
    return [shown(text) for text in texts] + [f"{m.label}: {m.value}" for m in tab.metric]


def comparison(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in retrain_tab(at).dataframe if "model" in d.value.columns)


def test_form_has_one_widget_per_hyperparameter_within_the_caps(monkeypatch, models):
    at = open_app(monkeypatch, models)
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    for spec in param_specs()[1:]:
        key = f"param_fasttext_{spec.name}"
        if not spec.applies_to("fasttext"):
            assert key not in keys  # the form shows only what the recipe uses
            continue
        kind = "selectbox" if spec.choices else "number_input"
        widget = getattr(at, kind)(key=key)
        if kind == "number_input":
            assert widget.min == spec.low
            assert widget.max == min(
                spec.high, {"epochs": 30, "vocab_size": 50_000}.get(spec.name, spec.high)
            )
    at.selectbox(key="retrain_architecture").select("lstm").run()
    assert at.number_input(key="param_lstm_vocab_size").value == 2000


def test_the_transformer_form_and_its_expected_training_time(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.selectbox(key="retrain_architecture").select("minilm").run()
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    assert at.number_input(key="param_minilm_learning_rate").value == 8e-5
    assert at.number_input(key="param_minilm_warmup_share").value == 0.1
    assert "param_minilm_vocab_size" not in keys
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    expected = [c.value for c in at.caption if "should take" in c.value]
    assert len(expected) == 1 and "A minilm run on these 700 rows should take" in expected[0]
    assert "refit" not in expected[0]  # the form's final refit is "no"


def test_the_refit_caption_appears_only_with_the_refit_chosen(monkeypatch, models):
    # Without the admin password the click is refused, but the form's values are taken:
    # the caption is checked without starting a transformer's training.
    at = open_app(monkeypatch, models, password="s3cret")
    at.selectbox(key="retrain_architecture").select("minilm").run()
    at.radio(key="retrain_source").set_value("data/sample.csv").run()

    def forecast() -> str:
        return next(c.value for c in retrain_tab(at).caption if "should take" in c.value)

    assert "refit" not in forecast()
    at = submit(at, final_refit="yes")
    assert "needs the admin password" in at.warning[0].value
    assert forecast().endswith("A final refit about doubles it.")
    at = submit(at, final_refit="no")
    assert "refit" not in forecast()


def test_the_ensemble_form_shows_the_members_weight_and_the_transformers_settings(
    monkeypatch, models
):
    at = open_app(monkeypatch, models)
    at.selectbox(key="retrain_architecture").select("minilm+fasttext").run()
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    assert at.number_input(key="param_minilm+fasttext_fasttext_weight").value == 0.5
    assert at.number_input(key="param_minilm+fasttext_learning_rate").value == 8e-5
    assert "geometric mean" in " ".join(c.value for c in at.caption)
    assert "param_minilm+fasttext_quantize" in keys  # a selectbox, as the one below would be
    assert at.selectbox(key="param_minilm+fasttext_lite_copy").value == "yes"
    assert at.selectbox(key="param_minilm+fasttext_final_refit").value == "no"
    # Settings the pair does not use are not offered.
    for name in ("vocab_size", "embedding_dim"):
        assert f"param_minilm+fasttext_{name}" not in keys


def test_data_without_the_label_column_is_refused_before_training(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("Upload a CSV").run()
    csv = pd.DataFrame({"text": ["a", "b"], "mood": ["x", "y"]}).to_csv(index=False).encode()
    at.file_uploader(key="retrain_file").set_value(("mine.csv", csv, "text/csv")).run()
    before = get_runner().current
    at = submit(at)
    assert not at.exception
    assert "Columns present: text, mood" in shown(at.error[0].value)
    assert get_runner().current is before  # no job was started


def test_a_ray_cluster_with_models_in_a_folder_is_warned_and_refused(monkeypatch, models):
    monkeypatch.setenv(config.RAY_ADDRESS_ENV, "127.0.0.1:1")
    at = open_app(monkeypatch, models)
    message = "the models must be on object storage that every node reaches"
    assert message in shown(at.tabs[4].warning[0].value)  # before anything is chosen
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    before = get_runner().current
    at = submit(at, epochs=1)
    assert not at.exception
    assert message in shown(at.error[0].value)
    assert get_runner().current is before  # no job was started


def test_a_single_class_is_refused_before_training(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("Upload a CSV").run()
    csv = pd.DataFrame({"text": list("abcdefghijkl"), "sentiment": ["pos"] * 12}).to_csv(
        index=False
    )
    at.file_uploader(key="retrain_file").set_value(("one.csv", csv.encode(), "text/csv")).run()
    at = submit(at)
    assert "only one class" in at.error[0].value


def test_a_second_job_is_told_one_is_running(monkeypatch, models):
    def someone_elses_job(report, stop):
        stop.wait(timeout=60)
        raise TrainingCancelled()

    job = get_runner().start(someone_elses_job, "someone else's job")
    try:
        at = open_app(monkeypatch, models)
        at.radio(key="retrain_source").set_value("data/sample.csv").run()
        at = submit(at, epochs=1)
        assert "already running (someone else's job)" in shown(at.error[0].value)
    finally:  # it ends cancelled, as a real job would, so the next test finds no stray result
        job.cancel()
        assert job.wait(timeout=30)["status"] == "cancelled"


def test_a_retrain_is_compared_on_its_own_test_part_timed_once_and_confirmed_if_worse(
    monkeypatch, models
):
    registry = Registry(models)
    active = registry.active_version()  # the shipped minilm+fasttext, trained on GOP tweets
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    state, clicked, ended = retrain(at, epochs=1, vocab_size=2000)
    new = state["result"]["version"]
    assert registry.active_version() == active  # never promoted by itself

    # Every row is measured on the new version's own test part: the active version scored
    # here, independently, on the test texts saved with the new version.
    test = load_predictions(registry, new)
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    split = split_data(data, seed=42)
    assert test["text"].tolist() == split.test["text"].tolist()
    predictor = load_predictor(models, active)
    expected = {
        f"active: {active}": evaluate_predictions(
            test["label"].tolist(), predictor.predict_proba(test["text"]), predictor.labels
        ),
        f"new: {new}": state["result"]["metrics"],
        "baseline: tf-idf + logistic regression": baseline_metrics(split, data.labels),
    }
    table = comparison(at)
    assert table["model"].tolist() == [f"new: {new}", f"active: {active}", *list(expected)[2:]]
    for row in table.itertuples():  # shown with 3 decimals
        figures = expected[row.model]
        assert row.accuracy == pytest.approx(figures["accuracy"], abs=5e-4), row.model
        assert row[3] == pytest.approx(figures["macro_f1"], abs=5e-4), row.model
    assert table["measured on"].tolist()[0] == "its test part: 100 rows of sample.csv"
    assert all(where.startswith("the same rows") for where in table["measured on"][1:])
    assert any("trained on other data (Sentiment.csv)" in text for text in texts_shown(at))

    # One duration: the real wait from the click on Start training until saved.
    assert 0 <= state["started"] - clicked < 1.0
    assert state["elapsed"] <= ended - clicked
    durations = [text for text in texts_shown(retrain_tab(at)) if DURATION.search(text)]
    assert durations == [
        f"Saved version {new} in {state['elapsed']:.0f} s, counted from the click on Start "
        "training."
    ]

    # Promoting it needs a tick that says it is worse, with both figures.
    new_f1, active_f1 = table.set_index("model")["macro-F1"][[f"new: {new}", f"active: {active}"]]
    assert new_f1 < active_f1  # one epoch of fasttext against the shipped default
    at.button(key="retrain_try").click().run()
    assert at.selectbox(key="version").value == new
    assert at.button(key="retrain_promote").disabled
    confirm = at.checkbox(key=f"retrain_promote_anyway_{new}")
    assert f"{new_f1:.3f}" in confirm.label and f"{active_f1:.3f}" in confirm.label
    confirm.check().run()
    assert not at.button(key="retrain_promote").disabled
    at.button(key="retrain_promote").click().run()
    assert registry.active_version() == new
    # Now it is the active one: nothing to compare it with, nothing to confirm.
    assert not comparison(at)["model"].str.startswith("active").any()
    assert at.button(key="retrain_promote").disabled


def test_a_version_above_the_active_one_is_promoted_without_confirming(monkeypatch, models):
    # The active version: one epoch on the same data, with another split.
    registry = Registry(models)
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = resolve_params({"epochs": 1, "vocab_size": 2000, "seed": 7})
    active = train_and_save(data, params, registry, promote=True)["version"]
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    state, _, _ = retrain(at, epochs=2)
    new = state["result"]["version"]
    table = comparison(at).set_index("model")
    assert table.loc[f"new: {new}", "macro-F1"] > table.loc[f"active: {active}", "macro-F1"]
    warning = shown(retrain_tab(at).warning[0].value)
    assert f"Version {active} was trained on the same data (sample.csv) with another split" in (
        warning
    )
    assert "distinct test texts were in its training data, which flatters its figures" in warning
    assert not [c for c in retrain_tab(at).checkbox if c.key.startswith("retrain_promote_anyway")]
    at.button(key="retrain_promote").click().run()
    assert registry.active_version() == new


def test_the_active_score_is_computed_once_and_an_unloadable_active_is_named(
    monkeypatch, models, tiny_models_dir
):
    import shutil

    from ui.common import get_predictor
    from ui.retrain_tab import active_on_test_part

    registry = Registry(models)
    active = registry.active_version()
    tiny = Registry(tiny_models_dir).versions()[0]  # fasttext on data/sample.csv
    shutil.copytree(tiny_models_dir / tiny, models / tiny)
    # A finished job whose saved version is the tiny one, as train_and_save returns it.
    saved = {**registry.metadata(tiny), "path": f"{models}/{tiny}"}
    get_runner().start(lambda report, stop: saved, "fasttext on sample.csv").wait(timeout=30)
    at = open_app(monkeypatch, models)
    first = comparison(at)
    assert first["model"].tolist()[1] == f"active: {active}"
    # Rerun with the model unloadable and dropped from memory: the score is not recomputed.
    (models / active / "model.keras").write_bytes(b"not a model")
    get_predictor.clear()
    at.run()
    assert not at.exception
    pd.testing.assert_frame_equal(comparison(at), first)
    # Computed again, the active version cannot be loaded: the tab says so and leaves it out.
    active_on_test_part.clear()
    at.run()
    assert not at.exception
    assert f"The active version {active} could not be scored" in shown(
        retrain_tab(at).warning[0].value
    )
    assert comparison(at)["model"].tolist() == [
        f"new: {tiny}",
        "baseline: tf-idf + logistic regression",
    ]
    assert not at.button(key="retrain_promote").disabled  # nothing to compare it with


def test_without_the_admin_password_promote_delete_and_train_are_refused(
    monkeypatch, models, tiny_models_dir
):
    import shutil

    tiny = Registry(tiny_models_dir).versions()[0]
    shutil.copytree(tiny_models_dir / tiny, models / tiny)
    at = open_app(monkeypatch, models, password="s3cret")
    at.selectbox(key="models_detail").select(tiny).run()
    assert at.button(key="promote").disabled
    assert at.checkbox(key="delete_confirm").disabled
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    before = get_runner().current
    at = submit(at, epochs=1)
    assert "needs the admin password" in at.warning[0].value
    assert get_runner().current is before  # no job was started
    at.text_input(key="admin_password_input").input("wrong").run()
    assert at.checkbox(key="delete_confirm").disabled
    at.text_input(key="admin_password_input").input("s3cret").run()
    assert not at.checkbox(key="delete_confirm").disabled
    assert not at.button(key="promote").disabled
    assert all("s3cret" not in str(element.value) for element in at.caption)
