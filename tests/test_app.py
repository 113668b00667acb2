"""The dashboard, run for real with Streamlit's AppTest."""

import shutil

import pandas as pd
import pytest
from conftest import shipped_version
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.predict import load_predictor
from pipeline.registry import Registry

APP = str(config.PROJECT_ROOT / "streamlit_app.py")


pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture
def two_versions(tmp_path, app_models_dir, tiny_models_dir):
    """The shipped models (the ensemble active) plus a small one trained on the sample."""
    root = tmp_path / "models"
    shutil.copytree(app_models_dir, root)
    tiny = Registry(tiny_models_dir).versions()[0]
    shutil.copytree(tiny_models_dir / tiny, root / tiny)
    return root


def run_app(monkeypatch, models_dir) -> AppTest:
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    return AppTest.from_file(APP, default_timeout=90).run()


def predict(at: AppTest, text: str) -> AppTest:
    at.text_area(key="predict_text").input(text)
    return at.button(key="FormSubmitter:predict_form-Predict").click().run()


def chart_data(at: AppTest, index: int = 0) -> dict:
    """The rows a Vega-Lite chart of the page draws, as {label: value} of its two columns."""
    import pyarrow as pa

    chart = (at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"))[index]
    frame = pa.ipc.open_stream(chart.proto.data.data).read_pandas()
    return dict(zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True))


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def test_page_loads_with_the_active_model_summary(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    assert not at.exception
    assert at.title[0].value == "Tweet sentiment"
    tabs = ["Predict", "Batch", "Data", "Models", "Retrain", "Label", "Monitor"]
    assert [t.label for t in at.tabs] == tabs
    active = Registry(app_models_dir).active_version()
    assert at.selectbox(key="version").value == active
    assert metric(at, "Model").value == "minilm+fasttext"
    accuracy = Registry(app_models_dir).metadata(active)["metrics"]["accuracy"]
    assert metric(at, "Test accuracy").value == f"{accuracy:.3f}"
    assert any("Sentiment\\.csv" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("WORST SHOW EVER", "negative"),
        ("Great answers tonight, so proud of our candidates!", "positive"),
        ("Who is moderating the debate tonight?", "neutral"),
    ],
)
def test_predict_shows_the_right_label_and_the_chart(monkeypatch, app_models_dir, text, label):
    at = predict(run_app(monkeypatch, app_models_dir), text)
    assert not at.exception
    assert metric(at, "Predicted label").value == label
    expected = load_predictor(app_models_dir).predict([text])[0]["probabilities"]
    assert chart_data(at) == pytest.approx(expected, abs=1e-6)  # this text's probabilities


def test_example_buttons_fill_the_text_box(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    at.button(key="example_positive").click().run()
    assert "proud" in at.text_area(key="predict_text").value


def test_empty_text_gets_a_message_not_a_prediction(monkeypatch, app_models_dir):
    at = predict(run_app(monkeypatch, app_models_dir), "   ")
    assert not at.exception
    assert "Type a text" in at.warning[0].value
    assert not [m for m in at.metric if m.label == "Predicted label"]


def test_the_transformer_default_explains_on_request(monkeypatch, app_models_dir):
    text = "Great answers tonight, so proud of our candidates!"
    at = predict(run_app(monkeypatch, app_models_dir), text)
    switch = at.toggle(key="explain_words_on_request")
    assert switch.value is False  # the shipped pair: off at first
    assert metric(at, "Predicted label").value == "positive"
    assert not [h for h in at.get("html") if 'data-testid="explanation"' in h.proto.body]
    assert any("Explain the words" in c.value for c in at.caption)
    switch.set_value(True)
    at = at.button(key="FormSubmitter:predict_form-Predict").click().run()
    assert metric(at, "Predicted label").value == "positive"  # the same label either way
    explanation = at.get("html")[0].proto.body
    assert all(word in explanation for word in text.split())


def test_a_fasttext_version_explains_at_once(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    at.selectbox(key="version").select(shipped_version("fasttext")).run()
    at = predict(at, "WORST SHOW EVER")
    assert at.toggle(key="explain_words").value is True
    assert "WORST" in at.get("html")[0].proto.body


def test_user_text_in_the_explanation_is_escaped(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    at.toggle(key="explain_words_on_request").set_value(True)
    at = predict(at, "<img src=x onerror=alert(1)> **bold**")
    html = at.get("html")[0].proto.body
    assert "<img" not in html
    assert "&lt;img" in html and "**bold**" in html


def test_batch_scores_an_uploaded_csv(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    csv = pd.DataFrame({"id": [1, 2], "tweet": ["WORST SHOW EVER", "Loved it!"]}).to_csv(
        index=False
    )
    at.file_uploader(key="batch_file").set_value(("tweets.csv", csv.encode(), "text/csv")).run()
    at.selectbox(key="batch_column").select("tweet").run()
    at.button(key="batch_score").click().run()
    assert not at.exception
    batch = next(t for t in at.tabs if t.label == "Batch")
    scored = batch.dataframe[-1].value  # after the preview of the text column
    assert scored["predicted_label"].tolist()[0] == "negative"
    assert {"prob_negative", "prob_neutral", "prob_positive"} <= set(scored.columns)
    assert at.download_button(key="batch_download")


def test_batch_scores_pasted_lines(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    at.text_area(key="batch_paste").input("WORST SHOW EVER\n\nLoved it, great job!").run()
    assert "2 rows ready." in [c.value for c in at.caption]
    at.text_area(key="batch_paste").input("WORST SHOW EVER").run()
    assert "1 row ready." in [c.value for c in at.caption]
    at.text_area(key="batch_paste").input("WORST SHOW EVER\n\nLoved it, great job!").run()
    at.button(key="batch_score").click().run()
    assert at.dataframe[0].value["predicted_label"].tolist() == ["negative", "positive"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary"),
        (b'text\n"unclosed\n', "not a readable CSV"),
        (b"text\n", "no rows"),
    ],
)
def test_bad_csv_shows_an_error(monkeypatch, app_models_dir, content, message):
    at = run_app(monkeypatch, app_models_dir)
    at.file_uploader(key="batch_file").set_value(("bad.csv", content, "text/csv")).run()
    assert not at.exception
    assert message in at.error[0].value


def test_data_tab_describes_the_sample(monkeypatch, app_models_dir):
    at = run_app(monkeypatch, app_models_dir)
    at.radio(key="data_source").set_value("data/sample.csv").run()
    assert not at.exception
    assert metric(at, "Rows").value == "700"
    assert float(metric(at, "Retweets").value.rstrip("%")) > 0
    samples = at.dataframe[0].value
    assert set(samples["label"]) == {"negative", "neutral", "positive"}


def test_models_tab_lists_versions_and_marks_the_active_one(monkeypatch, two_versions):
    at = run_app(monkeypatch, two_versions)
    table = next(d.value for d in at.dataframe if "version" in d.value.columns)
    registry = Registry(two_versions)
    assert sorted(table["version"]) == sorted(registry.versions())
    assert table.loc[table["active"] == "✔", "version"].tolist() == [registry.active_version()]
    assert at.selectbox(key="compare_a") and at.selectbox(key="compare_b")
    # The shipped default's details name its two members and their weights.
    members = registry.metadata()["members"]
    line = next(c.value for c in at.caption if c.value.startswith("Members"))
    for name, figures in members.items():
        assert f"{name} (weight {figures['weight']:g}, {figures['epochs_run']} epochs)" in line


def test_models_tab_promotes_and_deletes(monkeypatch, two_versions):
    registry = Registry(two_versions)
    shipped = registry.active_version()
    other = next(v for v in registry.versions() if v != shipped)
    at = run_app(monkeypatch, two_versions)
    at.selectbox(key="models_detail").select(other).run()
    at.button(key="promote").click().run()
    assert registry.active_version() == other
    at.selectbox(key="models_detail").select(shipped).run()
    at.checkbox(key="delete_confirm").check().run()
    at.button(key="delete").click().run()
    assert not at.exception
    assert shipped not in registry.versions() and other in registry.versions()


def test_missing_model_says_how_to_train(monkeypatch, tmp_path):
    at = run_app(monkeypatch, tmp_path / "empty")
    assert not at.exception
    assert "python train.py" in at.info[0].value


def test_a_wrong_prediction_can_be_corrected_and_shows_in_the_data_tab(
    monkeypatch, app_models_dir, feedback_file
):
    at = predict(run_app(monkeypatch, app_models_dir), "WORST SHOW EVER")
    at.radio(key="feedback_label").set_value("positive").run()
    at.button(key="feedback_save").click().run()
    assert not at.exception
    assert "saved" in at.success[0].value
    saved = pd.read_csv(feedback_file)
    assert saved[["text", "predicted_label", "correct_label"]].values.tolist() == [
        ["WORST SHOW EVER", "negative", "positive"]
    ]
    table = next(d.value for d in at.dataframe if "correct_label" in d.value.columns)
    assert table["text"].tolist() == ["WORST SHOW EVER"]


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_broken_active_model_is_reported_and_a_healthy_one_used(
    monkeypatch, two_versions, damage
):
    registry = Registry(two_versions)
    active = registry.active_version()
    healthy = next(v for v in registry.versions() if v != active)
    model_file = two_versions / active / "model.keras"
    if damage == "corrupt":
        model_file.write_bytes(b"not a zip at all")
    else:
        model_file.unlink()
    at = run_app(monkeypatch, two_versions)
    assert not at.exception
    assert f"The active version {active} cannot be loaded" in at.warning[0].value
    assert at.selectbox(key="version").value == healthy
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    status = dict(zip(table["version"], table["status"], strict=True))
    assert status[active].startswith("broken") and status[healthy] == "ok"
    at = predict(at, "WORST SHOW EVER")
    expected = load_predictor(two_versions, healthy).predict(["WORST SHOW EVER"])[0]
    assert metric(at, "Predicted label").value == expected["label"]  # the healthy one's answer
    assert metric(at, "Model").delta == healthy


def test_the_probability_chart_puts_the_likeliest_class_first():
    from ui.charts import probability_spec

    spec = probability_spec({"negative": 0.1, "neutral": 0.7, "positive": 0.2})
    assert [layer["encoding"]["y"]["sort"] for layer in spec["layer"]] == [
        ["neutral", "positive", "negative"]
    ] * 2
    assert "data" not in spec  # the probabilities come with each prediction
