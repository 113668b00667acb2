"""Evaluations: a version scored on a labelled CSV and kept beside it in the registry (local
folder here; S3 in test_object_store.py), the `evaluate` command, and the Models tab's views
of the shipped versions' committed evaluations on data/sample.csv."""

import hashlib
import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_shipped_models, shipped_version
from helpers import run_cli
from streamlit.testing.v1 import AppTest

from pipeline import config, load_predictor
from pipeline.analysis.evaluations import (
    TEST_PART,
    about_data,
    evaluate_version,
    load_evaluation_predictions,
    prediction_sources,
    read_evaluation_data,
)
from pipeline.analysis.predictions import PREDICTIONS_FILE, prob_column
from pipeline.calibration import encode, reliability_bins
from pipeline.errors import DataError, RegistryError
from pipeline.predict import load_model
from pipeline.registry import Registry
from pipeline.registry.store import EVALUATIONS_DIR

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
LABELS = ["negative", "neutral", "positive"]
SAMPLE_NOTE = "the bundled sample of 700 tweets written for this project, not the version's test"


@pytest.fixture
def models(tmp_path, tiny_models_dir):
    """A copy of the tiny registry (one fasttext version trained on the sample)."""
    root = tmp_path / "models"
    shutil.copytree(tiny_models_dir, root, ignore=shutil.ignore_patterns("*.lock"))
    registry = Registry(root)
    return registry, registry.versions()[0]


def tweets_csv(path, rows: list[tuple[str, str]], text="tweet", label="sentiment") -> str:
    """A small labelled CSV with an id column first (never the texts)."""
    frame = pd.DataFrame(rows, columns=[text, label])
    frame.insert(0, "id", range(1, len(rows) + 1))
    frame.to_csv(path, index=False)
    return str(path)


def test_an_evaluation_is_kept_beside_the_version_labelled_with_its_data(models):
    registry, version = models
    record = evaluate_version(registry, version, config.SAMPLE_DATA_PATH)
    data = record["data"]
    assert data["name"] == "sample.csv" and data["path"] == "data/sample.csv"
    sha = hashlib.sha256(config.SAMPLE_DATA_PATH.read_bytes()).hexdigest()
    assert data["sha256"] == sha and data["rows_used"] == data["rows_read"] == 700
    assert (data["text_column"], data["label_column"]) == ("text", "sentiment")
    assert data["text_column_guessed"] is True
    # The tiny version was trained on this very file: the record says so.
    assert data["about"].startswith("the very file this version was trained on")
    assert record["version"] == version and record["created"].startswith("20")
    assert registry.evaluations(version) == [record]
    assert registry.versions() == [version]  # never taken for a version

    predictions = load_evaluation_predictions(registry, version, record["evaluation"])
    probabilities = load_predictor(registry.root, version).predict_proba(predictions["text"])
    saved = predictions[[prob_column(label) for label in LABELS]].to_numpy()
    np.testing.assert_allclose(saved, probabilities, atol=1e-5)
    accuracy = (predictions["predicted"] == predictions["label"]).mean()
    assert record["metrics"]["accuracy"] == pytest.approx(accuracy)
    bins = reliability_bins(saved, encode(predictions["label"], LABELS))
    assert record["calibration"]["bins"] == bins
    assert set(record["behaviour"]) >= {"typo", "name", "punctuation", "negation"}
    assert PREDICTIONS_FILE in record["files"]


def test_a_version_holds_several_evaluations_newest_first_after_its_test_part(models, tmp_path):
    registry, version = models
    first = evaluate_version(registry, version, config.SAMPLE_DATA_PATH)
    upload = config.SAMPLE_DATA_PATH.read_bytes() + b"Another debate tonight,Neutral\n"
    second = evaluate_version(registry, version, upload, "text", name="upload.csv")
    assert [r["evaluation"] for r in registry.evaluations(version)] == [
        second["evaluation"],
        first["evaluation"],
    ]
    assert second["data"]["path"] == "upload.csv" and second["data"]["rows_used"] == 701
    assert second["data"]["about"] == "not the version's test part"
    assert second["data"]["text_column_guessed"] is False
    sources = prediction_sources(registry, version)
    assert [s.key for s in sources] == [TEST_PART, second["evaluation"], first["evaluation"]]
    assert sources[0].title.startswith("test part saved at training (")
    assert sources[1].title.startswith("upload.csv (701 rows, 20")
    assert sources[1].title.endswith(" UTC) — not the version's test part")


def test_labels_the_version_does_not_know_are_refused_by_name(models, tmp_path):
    registry, version = models
    path = tweets_csv(
        tmp_path / "moods.csv",
        [("so happy tonight", "Positive"), ("what a mess", "Angry"), ("meh", "bored")],
    )
    with pytest.raises(DataError) as error:
        evaluate_version(registry, version, path)
    message = str(error.value)
    assert "'angry' (1 row), 'bored' (1 row)" in message and "moods.csv" in message
    assert "The version's labels: negative, neutral, positive" in message
    assert registry.evaluations(version) == []


def test_one_class_and_few_rows_are_enough_to_evaluate(models, tmp_path):
    """Training needs 2 classes of 10 rows; an evaluation splits nothing, so it does not."""
    registry, version = models
    path = tweets_csv(tmp_path / "complaints.csv", [("worst debate ever", "Negative")] * 3)
    record = evaluate_version(registry, version, path)
    assert record["data"]["text_column"] == "tweet"  # guessed: `id` holds only numbers
    assert record["data"]["labels"] == ["negative"]
    # macro-F1 over the classes the file has: the absent ones are not counted as 0.
    assert record["metrics"]["macro_f1_labels"] == ["negative"]
    assert record["metrics"]["macro_f1"] == record["metrics"]["per_class"]["negative"]["f1"]


def test_the_data_is_said_to_be_the_sample_the_training_file_or_neither():
    sample, _ = read_evaluation_data(config.SAMPLE_DATA_PATH)
    assert about_data(sample, {"sha256": "0" * 64}) == f"{SAMPLE_NOTE} part"
    assert about_data(sample, {"sha256": sample.sha256}).startswith("the very file this")
    other, _ = read_evaluation_data(
        config.SAMPLE_DATA_PATH.read_bytes() + b"One more,Neutral\n", name="other.csv"
    )
    assert about_data(other, {"sha256": "0" * 64}) == "not the version's test part"


def test_the_row_cap_is_trainings_and_said():
    cap = inspect.signature(read_evaluation_data).parameters["max_rows"].default
    assert cap == config.MAX_TRAINING_ROWS
    with pytest.raises(DataError, match="more than 699 rows, the cap for data to evaluate on"):
        read_evaluation_data(config.SAMPLE_DATA_PATH, max_rows=699)


def test_a_numeric_text_column_is_refused(models, tmp_path):
    registry, version = models
    path = tweets_csv(tmp_path / "t.csv", [("great night", "Positive"), ("bad", "Negative")])
    with pytest.raises(DataError, match="'id' of t.csv holds only numbers.*'tweet'"):
        evaluate_version(registry, version, path, text_column="id")


def test_a_failure_mid_write_leaves_no_evaluation_listed(models, monkeypatch):
    registry, version = models

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", crash)  # the record, written after the predictions
    with pytest.raises(RegistryError, match="disk full"):
        evaluate_version(registry, version, config.SAMPLE_DATA_PATH)
    monkeypatch.undo()
    assert registry.evaluations(version) == []
    folder = Path(registry.root, EVALUATIONS_DIR, version)
    assert [p.name for p in folder.iterdir() if p.is_dir()] == []  # no staging folder left


def test_deleting_a_version_deletes_its_evaluations(models):
    registry, version = models
    other = registry.save(load_model(registry, version), registry.metadata(version))
    evaluate_version(registry, version, config.SAMPLE_DATA_PATH)
    kept = evaluate_version(registry, other, config.SAMPLE_DATA_PATH)
    registry.promote(other)
    registry.delete(version)
    assert [p.name for p in Path(registry.root, EVALUATIONS_DIR).iterdir()] == [other]
    assert not [p.name for p in Path(registry.root).iterdir() if p.name.startswith(".tmp-")]
    assert registry.evaluations(other) == [kept]
    with pytest.raises(RegistryError, match="Unknown model version"):
        registry.evaluations(version)


def test_the_evaluate_command_scores_stores_and_prints(models):
    registry, version = models
    result = run_cli("-m", "pipeline", "evaluate", version, "--data", "data/sample.csv",
                     "--models-dir", registry.root)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = registry.evaluations(version)
    accuracy = record["metrics"]["accuracy"]
    assert f"accuracy {accuracy:.3f}" in result.stdout
    assert "text column 'text' (guessed; change it with --text-column)" in result.stdout
    where = f"{registry.root}/{EVALUATIONS_DIR}/{version}/{record['evaluation']}"
    assert f"stored as evaluation {record['evaluation']} in {where}" in result.stdout
    assert record["reproduce"] == (
        f"python -m pipeline evaluate {version} --data data/sample.csv --label-column sentiment"
    )
    as_json = run_cli("-m", "pipeline", "evaluate", "--data", str(config.SAMPLE_DATA_PATH),
                      "--text-column", "text", "--json", models_dir=registry.root)  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    printed = json.loads(as_json.stdout)
    assert printed["version"] == version  # the active one by default
    assert {k: v for k, v in printed.items() if k != "path"} == registry.evaluations(version)[0]


def test_the_evaluate_command_refuses_unknown_labels_in_one_line(models, tmp_path):
    registry, version = models
    path = tweets_csv(tmp_path / "moods.csv", [("so happy", "joy"), ("what a mess", "Negative")])
    result = run_cli("-m", "pipeline", "evaluate", version, "--data", path,
                     models_dir=registry.root)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: moods.csv has labels that version")
    assert "'joy' (1 row)" in result.stderr and "Traceback" not in result.stderr
    assert registry.evaluations(version) == []


def test_the_shipped_versions_carry_an_evaluation_on_the_sample():
    """Committed in models/ (made by `python -m pipeline evaluate VERSION --data
    data/sample.csv`), so a fresh clone's views have something to show."""
    registry = Registry(config.DEFAULT_MODELS_DIR)
    sha = hashlib.sha256(config.SAMPLE_DATA_PATH.read_bytes()).hexdigest()
    for version in registry.versions():
        records = registry.evaluations(version)
        sample = [r for r in records if r["data"]["sha256"] == sha]
        assert sample, f"version {version} has no committed evaluation on data/sample.csv"
        assert sample[0]["data"]["about"].startswith(SAMPLE_NOTE)
        path = registry.evaluation_file(version, sample[0]["evaluation"], PREDICTIONS_FILE)
        assert len(pd.read_csv(path)) == 700


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The dashboard over a copy of the shipped models."""
    root = copy_shipped_models(tmp_path / "models")
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(root))
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return Registry(root)


def reliability_titles(at: AppTest) -> list[str]:
    return [
        json.loads(chart.proto.spec)["layer"][1]["title"]
        for chart in at.get("vega_lite_chart")
        if "Reliability diagram" in chart.proto.spec
    ]


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


@pytest.mark.usefixtures("fresh_caches")
@pytest.mark.parametrize("architecture", ["minilm+fasttext", "fasttext"])
def test_the_models_tab_shows_a_shipped_version_on_its_sample_evaluation(shipped, architecture):
    version = shipped_version(architecture)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.selectbox(key="models_detail").set_value(version).run()
    assert not at.exception
    chooser = at.selectbox(key=f"models_source_{version}")
    (record,) = shipped.evaluations(version)
    assert chooser.value == record["evaluation"]  # no test part shipped: the sample's
    title = chooser.format_func(chooser.value)
    assert title.startswith("data/sample.csv (700 rows, 20")
    assert title.endswith(f" UTC) — {SAMPLE_NOTE} part")
    about = f"data/sample\\.csv\\: {SAMPLE_NOTE} part\\. SHA\\-256 {record['data']['sha256'][:12]}…"
    assert any(c.value.startswith(about) for c in at.caption)
    # Calibration: the reliability diagram of the sample's predictions.
    assert reliability_titles(at) == ["Reliability diagram (data/sample.csv)"]
    ece = next(m.value for m in at.metric if m.label == "Evaluation ECE")
    assert ece == f"{record['calibration']['ece']:.3f}"
    # Confusion cells: the texts of the chosen cell, from the committed predictions.
    predictions = load_evaluation_predictions(shipped, version, record["evaluation"])
    at.selectbox(key=f"analysis_true_{version}_{record['evaluation']}").set_value("neutral")
    at.selectbox(key=f"analysis_predicted_{version}_{record['evaluation']}").set_value(
        "negative"
    ).run()
    cell = predictions[
        (predictions["label"] == "neutral") & (predictions["predicted"] == "negative")
    ]
    shown = table_with(at, "text", "predicted", "prob_negative")
    assert sorted(shown["text"]) == sorted(cell["text"]) and len(cell) > 0
    assert any(
        c.value.startswith(f"{len(cell)} texts of data/sample\\.csv labelled neutral")
        for c in at.caption
    )
    at.radio(key="analysis_section").set_value("Slices").run()
    slices = table_with(at, "by", "slice", "accuracy_gap")
    assert "length" in set(slices["by"]) and slices["accuracy"].is_monotonic_increasing
    at.radio(key="analysis_section").set_value("Behavioural checks").run()
    checks = table_with(at, "version", "typo", "checked").set_index("version")
    stored = Registry(config.DEFAULT_MODELS_DIR).metadata(version).get("behaviour")
    if stored is None:  # no checks stored at training: the evaluation's
        rate = record["behaviour"]["name"]["pass_rate"]
        assert checks.loc[version, "checked"] == f"evaluated {record['created'][:10]}"
    else:
        rate = stored["name"]["pass_rate"]
        assert checks.loc[version, "checked"] == "at training"
    assert checks.loc[version, "name"] == f"{rate * 100:.1f} %"
    assert all(value.endswith(" %") for value in checks["typo"])


@pytest.fixture
def tiny_app(models, monkeypatch, tmp_path):
    registry, version = models
    monkeypatch.setenv(config.MODELS_DIR_ENV, registry.root)
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return registry, version


@pytest.mark.usefixtures("fresh_caches")
def test_evaluating_from_the_models_tab_lists_and_shows_the_new_evaluation(tiny_app):
    registry, version = tiny_app
    at = AppTest.from_file(APP, default_timeout=120).run()
    chooser = at.selectbox(key=f"models_source_{version}")
    assert chooser.options == [chooser.format_func(TEST_PART)]  # the test part alone
    assert reliability_titles(at) == ["Reliability diagram (test part)"]
    at.radio(key="evaluate_source").set_value("data/sample.csv")
    at.button(key="evaluate_start").click().run()
    assert not at.exception
    (record,) = registry.evaluations(version)
    chooser = at.selectbox(key=f"models_source_{version}")
    assert chooser.value == record["evaluation"]  # listed and selected
    assert len(chooser.options) == 2
    assert reliability_titles(at) == ["Reliability diagram (data/sample.csv)"]
    assert any("texts of data/sample\\.csv labelled" in c.value for c in at.caption)


@pytest.mark.usefixtures("fresh_caches")
def test_evaluating_from_the_tab_needs_the_password_where_training_does(tiny_app):
    registry, version = tiny_app
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["admin_password"] = "s3cret"
    at.run()
    assert at.button(key="evaluate_start").disabled
    assert any("needs the admin password" in c.value for c in at.caption)
    assert registry.evaluations(version) == []


@pytest.mark.usefixtures("fresh_caches")
def test_an_upload_with_unknown_labels_shows_the_error_in_the_tab(tiny_app):
    registry, version = tiny_app
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.radio(key="evaluate_source").set_value("Upload a CSV").run()
    assert at.button(key="evaluate_start").disabled  # nothing uploaded yet
    csv = b"text,sentiment\nso happy tonight,joy\nwhat a mess,Negative\n"
    at.file_uploader(key="evaluate_file").set_value(("my_moods.csv", csv, "text/csv")).run()
    at.button(key="evaluate_start").click().run()
    assert not at.exception
    (error,) = at.error
    assert "my\\_moods\\.csv has labels that version" in error.value  # escaped Markdown
    assert "'joy' \\(1 row\\)" in error.value
    assert registry.evaluations(version) == []


def test_counts_and_rates_are_said_right():
    from pipeline.wording import percent, plural
    from ui.models_tab import members_line

    assert plural(1, "version") == "1 version" and plural(2, "version") == "2 versions"
    assert plural(1982, "row") == "1,982 rows" and plural(0, "text") == "0 texts"
    assert percent(0.9375) == "93.8 %" and percent(1.0) == "100.0 %" and percent(None) == "n/a"
    line = members_line({"fasttext": {"weight": 0.5, "epochs_run": 1}})
    assert line.endswith("fasttext (weight 0.5, 1 epoch)")


@pytest.mark.usefixtures("fresh_caches")
def test_one_version_without_checks_is_said_in_the_singular(tiny_app):
    registry, version = tiny_app
    older = "20000101-000000-0001"
    shutil.copytree(Path(registry.root, version), Path(registry.root, older))
    metadata = registry.metadata(version)
    del metadata["behaviour"]
    Path(registry.root, older, "metadata.json").write_text(
        json.dumps({**metadata, "version": older})
    )
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.radio(key="analysis_section").set_value("Behavioural checks").run()
    assert not at.exception
    toggle = at.toggle(key="analysis_check_old")
    assert toggle.label == "Also check the 1 version saved before checks were stored"
    table = table_with(at, "version", "typo", "checked").set_index("version")
    rate = registry.metadata(version)["behaviour"]["typo"]["pass_rate"]
    assert table.loc[version, "typo"] == f"{rate * 100:.1f} %"
    assert table.loc[version, "checked"] == "at training"
