"""Error analysis: saved test predictions, confusion cells, slices, behavioural checks,
run comparison, the `errors` command and the Models tab's views."""

import shutil

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli
from streamlit.testing.v1 import AppTest

from pipeline import config, load_predictor
from pipeline.analysis.behaviour import NAMES, run_behaviour_checks, with_typo
from pipeline.analysis.compare import differences, disagreements, learning_curves_frame
from pipeline.analysis.confusion import cell_texts, confusion_counts, worst_errors
from pipeline.analysis.predictions import (
    PREDICTIONS_FILE,
    compute_predictions,
    load_predictions,
    predictions_frame,
)
from pipeline.analysis.slices import slice_metrics
from pipeline.data import load_labelled_data, split_data
from pipeline.errors import DataError
from pipeline.params import resolve_params
from pipeline.registry import Registry
from pipeline.train import train_and_save
from tests.conftest import TINY_PARAMS

LABELS = ["negative", "neutral", "positive"]
APP = str(config.PROJECT_ROOT / "streamlit_app.py")


NEGATIVE_WORDS = {"liar", "weak", "disaster", "stand", "idea"}
POSITIVE_WORDS = {"great", "love", "good", "best", "proud", "impressed", "amazing", "like",
                  "impressive", "strong", "well", "happy", "smart"}  # fmt: skip


def letters(word: str) -> str:
    """A word's letters in order: the same for a word and its letter-swap typo."""
    return "".join(sorted(word.lower().strip(".,!?")))


class KeywordPredictor:
    """A stand-in model that reads keywords, whatever the letter order; optionally fooled
    by a trailing "!", by one name, or by "not"."""

    labels = LABELS

    def __init__(self, bang_flips=False, name_flips=None, ignores_not=True):
        self.bang_flips, self.name_flips, self.ignores_not = bang_flips, name_flips, ignores_not

    def predict_proba(self, texts):
        negative, positive = (
            {letters(w) for w in NEGATIVE_WORDS},
            {letters(w) for w in POSITIVE_WORDS},
        )
        rows = []
        for text in texts:
            words = {letters(w) for w in text.split()}
            row = [0.2, 0.6, 0.2]
            if words & negative:
                row = [0.7, 0.2, 0.1]
            if words & positive:
                row = [0.1, 0.2, 0.7]
                if letters("not") in words and not self.ignores_not:
                    row = [0.6, 0.2, 0.2]
            if self.bang_flips and text.endswith("!"):
                row = row[::-1]
            if self.name_flips and self.name_flips in text:
                row = row[::-1]
            rows.append(row)
        return np.array(rows)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny version trained on the sample, with its data and split."""
    root = tmp_path_factory.mktemp("models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    result = train_and_save(data, resolve_params(TINY_PARAMS), Registry(root))
    return root, result["version"], data


def test_a_new_version_keeps_its_test_predictions(trained):
    root, version, data = trained
    registry = Registry(root)
    predictions = load_predictions(registry, version)
    test = split_data(data, seed=registry.metadata(version)["split"]["seed"]).test
    assert predictions["text"].tolist() == test["text"].tolist()
    assert predictions["label"].tolist() == test["label"].tolist()
    probabilities = load_predictor(root, version).predict_proba(test["text"])
    saved = predictions[[f"prob_{label}" for label in LABELS]].to_numpy()
    assert np.allclose(saved, probabilities, atol=1e-5)
    assert predictions["predicted"].tolist() == [LABELS[i] for i in probabilities.argmax(1)]
    accuracy = (predictions["predicted"] == predictions["label"]).mean()
    assert accuracy == pytest.approx(registry.metadata(version)["metrics"]["accuracy"])
    assert PREDICTIONS_FILE in registry.metadata(version)["files"]


def test_predictions_computed_later_match_the_saved_ones_and_need_the_same_data(trained):
    root, version, data = trained
    registry = Registry(root)
    computed = compute_predictions(registry, version, data)
    saved = load_predictions(registry, version)
    assert computed["text"].tolist() == saved["text"].tolist()
    assert np.allclose(computed["confidence"], saved["confidence"], atol=1e-5)
    other = load_labelled_data(config.SAMPLE_DATA_PATH.read_bytes() + b"extra row,positive\n",
                               name="other.csv")  # fmt: skip
    with pytest.raises(DataError, match="trained on sample.csv"):
        compute_predictions(registry, version, other)


def test_predictions_keep_the_csv_columns_for_slicing():
    frame = pd.DataFrame(
        {"text": ["a", "b"], "label": ["neutral", "positive"], "candidate": ["X", "Y"]}
    )
    predictions = predictions_frame(frame, np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1]]), LABELS)
    assert predictions["predicted"].tolist() == ["neutral", "negative"]
    assert predictions["column:candidate"].tolist() == ["X", "Y"]
    assert predictions["confidence"].tolist() == [0.8, 0.6]


def sample_predictions() -> pd.DataFrame:
    texts = ["RT @a: bad #x", "good http://t.co", "meh", "so bad", "fine @b", "great great"]
    labels = ["negative", "positive", "neutral", "negative", "neutral", "positive"]
    probabilities = np.array(
        [[0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3], [0.9, 0.05, 0.05],
         [0.1, 0.3, 0.6], [0.05, 0.05, 0.9]]
    )  # fmt: skip
    frame = pd.DataFrame({"text": texts, "label": labels, "who": list("AABBBB")})
    return predictions_frame(frame, probabilities, LABELS)


def test_confusion_cells_hold_their_texts_most_confident_first():
    predictions = sample_predictions()
    counts = confusion_counts(predictions, LABELS)
    assert counts.loc["negative", "neutral"] == 1 and counts.loc["positive", "positive"] == 2
    assert cell_texts(predictions, "positive", "positive")["text"].tolist() == [
        "great great",
        "good http://t.co",
    ]
    wrong = worst_errors(predictions)
    assert wrong["text"].tolist() == ["RT @a: bad #x", "fine @b"]
    assert worst_errors(predictions, 1)["text"].tolist() == ["RT @a: bad #x"]


def test_slices_are_scored_and_sorted_worst_first():
    predictions = sample_predictions()
    table = slice_metrics(predictions, LABELS, min_rows=2)
    by_slice = table.set_index(["by", "slice"])
    assert by_slice.loc[("who", "A"), "accuracy"] == 0.5
    assert by_slice.loc[("who", "B"), "accuracy"] == 0.75
    assert by_slice.loc[("length", "1-8 words"), "rows"] == 6
    assert by_slice.loc[("mention", "with mention"), "accuracy"] == 0.0
    assert table["accuracy"].is_monotonic_increasing
    assert ("retweet", "with retweet") not in by_slice.index  # one row: under min_rows
    assert by_slice.loc[("who", "A"), "accuracy_gap"] == pytest.approx(0.5 - 4 / 6)


def test_behavioural_checks_catch_what_flips_a_label():
    robust = run_behaviour_checks(KeywordPredictor(ignores_not=False))
    assert {k: robust[k]["pass_rate"] for k in ("typo", "name", "punctuation", "negation")} == {
        "typo": 1.0, "name": 1.0, "punctuation": 1.0, "negation": 1.0,
    }  # fmt: skip
    fooled = run_behaviour_checks(
        KeywordPredictor(bang_flips=True, name_flips=NAMES[3], ignores_not=True)
    )
    assert fooled["punctuation"]["pass_rate"] < 1.0
    assert fooled["name"]["pass_rate"] < 1.0
    assert all(NAMES[3] in failure[1] for failure in fooled["name"]["failures"])
    assert fooled["negation"]["pass_rate"] == 0.0
    assert fooled["typo"]["pass_rate"] == 1.0
    assert with_typo("the economy tonight") == "the ecnoomy tonight"


def test_the_negation_check_needs_a_positive_class():
    class NoPositive(KeywordPredictor):
        labels = ["1", "3", "5"]

    result = run_behaviour_checks(NoPositive())
    assert result["negation"]["pass_rate"] is None
    assert result["emoji"]["pass_rate"] is None and "'negative'" in result["emoji"]["note"]
    assert result["typo"]["cases"] > 0


class EmojiReader(KeywordPredictor):
    """Reads emoji by the names the cleaning gives them: a heart or a smile is praise."""

    def predict_proba(self, texts):
        from pipeline.text import clean_text

        names = {"heart": "great", "clapping": "great", "smiling": "great",
                 "enraged": "disaster", "vomiting": "disaster", "down": "disaster",
                 "angry": "disaster"}  # fmt: skip
        read = [" ".join(names.get(w, w) for w in clean_text(t).split()) for t in texts]
        return super().predict_proba(read)


def test_the_emoji_check_passes_a_model_that_reads_emoji_and_fails_one_that_does_not():
    from pipeline.analysis.behaviour import EMOJI, PLAIN

    blind = run_behaviour_checks(KeywordPredictor())["emoji"]
    assert blind["kind"] == "directional"
    assert blind["cases"] == len(PLAIN) * sum(map(len, EMOJI.values()))
    assert blind["pass_rate"] == 0.0  # the probabilities never move
    assert blind["failures"][0][1].startswith(blind["failures"][0][0] + " ")
    reader = run_behaviour_checks(EmojiReader())["emoji"]
    assert reader["pass_rate"] == 1.0 and reader["failures"] == []


def test_runs_are_compared_by_parameters_curves_and_texts():
    a = {
        "architecture": "fasttext",
        "params": {"epochs": 4, "seed": 42},
        "data": {"name": "x.csv"},
        "history": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]},
    }
    b = {"architecture": "fasttext", "params": {"epochs": 6, "seed": 42},
         "data": {"name": "x.csv"}, "history": {"loss": [0.9]}}  # fmt: skip
    assert differences(a, b).to_dict("records") == [{"field": "params.epochs", "a": "4", "b": "6"}]
    curves = learning_curves_frame({"A": a, "B": b})
    assert len(curves) == 5 and set(curves["part"]) == {"train", "validation"}
    first = sample_predictions()
    second = first.assign(predicted=first["label"])
    second.loc[1, "predicted"] = "negative"
    result = disagreements(first, second)
    assert result["only_b"]["text"].tolist() == ["RT @a: bad #x", "fine @b"]
    assert result["only_a"]["text"].tolist() == ["good http://t.co"]
    assert result["note"] == ""
    shifted = disagreements(first, second.iloc[2:])
    assert shifted["compared"] == 4 and "different rows" in shifted["note"]


def test_the_errors_command_prints_the_worst_errors_as_csv(trained, tmp_path):
    root, version, _ = trained
    result = run_cli("-m", "pipeline", "errors", version, "--limit", "3", models_dir=root)
    assert result.returncode == 0, result.stderr
    from io import StringIO

    printed = pd.read_csv(StringIO(result.stdout))
    expected = worst_errors(load_predictions(Registry(root), version), 3)
    assert printed["text"].tolist() == expected["text"].tolist()
    assert (printed["label"] != printed["predicted"]).all()
    slices = run_cli("-m", "pipeline", "errors", version, "--slices", models_dir=root)
    assert slices.stdout.startswith("by,slice,rows,accuracy,macro_f1")


def test_the_errors_command_asks_for_the_data_of_an_older_version(trained, tmp_path):
    root, version, _ = trained
    old = tmp_path / "models"
    shutil.copytree(root, old)
    (old / version / PREDICTIONS_FILE).unlink()
    meta = old / version / "metadata.json"
    import json

    metadata = json.loads(meta.read_text())
    del metadata["files"][PREDICTIONS_FILE]
    meta.write_text(json.dumps(metadata))
    result = run_cli("-m", "pipeline", "errors", version, models_dir=old)
    assert result.returncode != 0
    assert "saved before test predictions were kept" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli("-m", "pipeline", "errors", version, "--data", str(config.SAMPLE_DATA_PATH),
                     "--limit", "2", models_dir=old)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(__import__("io").StringIO(result.stdout))) == 2


def test_predictions_travel_with_a_version_on_object_storage(trained):
    root, version, _ = trained
    remote = Registry(f"memory://analysis-{version}/models")
    remote.copy_in(Registry(root), version)
    assert load_predictions(remote, version)["text"].tolist() == (
        load_predictions(Registry(root), version)["text"].tolist()
    )


@pytest.fixture
def app(monkeypatch, trained, tmp_path):
    """The dashboard on two tiny versions (different epochs) that both kept predictions."""
    root, version, data = trained
    models = tmp_path / "models"
    shutil.copytree(root, models)
    params = resolve_params({**TINY_PARAMS, "epochs": 2})
    second = train_and_save(data, params, Registry(models))["version"]
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.selectbox(key="models_detail").set_value(version).run()
    return at, Registry(models), version, second


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page that has these columns."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def test_the_models_tab_shows_a_confusion_cell_with_its_texts_and_explanations(app):
    at, registry, version, _ = app
    assert not at.exception
    predictions = load_predictions(registry, version)
    at.selectbox(key=f"analysis_true_{version}_test").set_value("negative")
    at.selectbox(key=f"analysis_predicted_{version}_test").set_value("neutral").run()
    shown = table_with(at, "text", "predicted", "prob_neutral")
    expected = cell_texts(predictions, "negative", "neutral")
    assert shown["text"].tolist() == expected["text"].tolist()
    assert any(
        "of the test part labelled negative, predicted neutral (wrong)" in c.value
        for c in at.caption
    )
    explained = [e for e in at.get("html") if 'data-testid="explanation"' in e.proto.body]
    assert len(explained) == min(5, len(expected))


def test_the_models_tab_shows_slices_and_behaviour_for_every_version(app):
    at, registry, version, second = app
    at.radio(key="analysis_section").set_value("Slices").run()
    slices = table_with(at, "by", "slice", "accuracy_gap")
    assert slices["accuracy"].is_monotonic_increasing and "length" in set(slices["by"])
    at.radio(key="analysis_section").set_value("Behavioural checks").run()
    table = table_with(at, "version", "typo", "negation", "emoji")
    assert set(table["version"]) == {version, second}
    for check in ("typo", "emoji"):
        stored = registry.metadata(second)["behaviour"][check]["pass_rate"]
        assert table.set_index("version").loc[second, check] == f"{stored * 100:.1f} %"


def test_the_models_tab_compares_runs(app):
    at, registry, version, second = app
    assert set(at.multiselect(key="compare_versions").value) == {version, second}
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    curves = [s for s in specs if '"strokeDash"' in s and '"field": "epoch"' in s]
    classes = [s for s in specs if '"field": "class"' in s and '"field": "version"' in s]
    assert curves and classes
    at.selectbox(key="compare_a").set_value(version)
    at.selectbox(key="compare_b").set_value(second).run()
    diff = table_with(at, "field")
    assert "params.epochs" in diff["field"].tolist()
    result = disagreements(load_predictions(registry, version), load_predictions(registry, second))
    headers = [m.value for m in at.markdown if m.value.startswith("**Right by")]
    assert headers == [
        f"**Right by A ({version}), wrong by B: {len(result['only_a'])}**",
        f"**Right by B ({second}), wrong by A: {len(result['only_b'])}**",
    ]
