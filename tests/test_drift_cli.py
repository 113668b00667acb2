"""`python -m pipeline drift`: its JSON and summary, the reference it takes, a prediction log
read with its stored probabilities, and one-line refusals of what it cannot judge. The
shipped fasttext version runs without TensorFlow, in this process."""

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import shipped_version

from pipeline import config
from pipeline.__main__ import main
from pipeline.analysis.predictions import cached_path, predictions_frame
from pipeline.cli import BROKEN_PIPE_EXIT, run
from pipeline.monitor.drift import MIN_WINDOW_TEXTS, score_frame
from pipeline.registry import Registry
from pipeline.registry.store import EVALUATIONS_DIR

SAMPLE = config.SAMPLE_DATA_PATH


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A local registry holding the shipped fasttext version, active."""
    version = shipped_version("fasttext")
    registry = Registry(tmp_path_factory.mktemp("drift") / "models")
    registry.copy_in(Registry(config.DEFAULT_MODELS_DIR), version)
    registry.promote(version)
    return registry


@pytest.fixture
def texts_csv(tmp_path):
    """A CSV of 300 texts of the sample, without labels."""
    path = tmp_path / "window.csv"
    pd.read_csv(SAMPLE)[["text"]].tail(300).to_csv(path, index=False)
    return path


def drift(*args, models, capsys) -> tuple[int, str, str]:
    """`python -m pipeline drift ARGS` in this process: exit code, stdout, stderr."""
    code = run(main, ["drift", *map(str, args), "--models-dir", str(models.root)])
    out, err = capsys.readouterr()
    return code, out, err


def log_csv(path, registry: Registry, version: str, texts, versions) -> None:
    """An exported prediction log of `texts`, scored by `version`, one `versions` each."""
    frame = score_frame(registry, version, texts)
    frame.insert(0, "time", "2026-01-01T00:00:00Z")
    frame.insert(1, "version", versions)
    frame.insert(2, "source", "api")
    frame.insert(4, "text_sha256", "0" * 64)
    frame.to_csv(path, index=False)


def test_json_findings_of_a_csv_window_against_a_labelled_reference(models, texts_csv, capsys):
    code, out, err = drift("--current", texts_csv, "--reference", SAMPLE, "--json",
                           models=models, capsys=capsys)  # fmt: skip
    assert code == 0, err
    findings = json.loads(out)
    assert findings["version"] == models.active_version()
    assert findings["texts"] == 300 and findings["reference_texts"] == 700
    assert isinstance(findings["drift"], bool) and isinstance(findings["reasons"], list)
    assert set(findings["label_mix"]["current"]) == set(models.metadata()["labels"])
    assert 0 <= findings["text"]["roc_auc"] <= 1
    accuracy = findings["estimated_accuracy"]  # the sample's labels calibrate it
    assert accuracy["calibration_texts"] == 700 and 0 < accuracy["estimated"] < 1
    assert findings["current"]["text_column_guessed"] is True
    assert "texts of window.csv: column 'text' (guessed" in err


def test_the_summary_says_drift_and_why_for_texts_of_another_topic(models, tmp_path, capsys):
    rng = np.random.default_rng(0)
    words = ["iphone", "ipad", "aapl", "earnings", "battery", "screen", "store", "watch"]
    window = tmp_path / "phones.csv"
    texts = [" ".join(rng.choice(words, 6)) for _ in range(MIN_WINDOW_TEXTS)]
    pd.DataFrame({"tweet": texts}).to_csv(window, index=False)
    code, out, err = drift("--current", window, "--reference", SAMPLE, "--text-column", "tweet",
                           models=models, capsys=capsys)  # fmt: skip
    assert code == 0, err  # drift found is not an error
    lines = out.splitlines()
    assert lines[0].startswith(f"DRIFT: {MIN_WINDOW_TEXTS} texts against 700")
    assert any("texts changed" in line for line in lines)
    (text_line,) = [line for line in lines if line.startswith("text: ROC AUC")]
    assert any(word in text_line for word in words)


def test_the_default_reference_is_the_versions_saved_test_predictions(models, texts_csv, capsys):
    version = models.active_version()
    sample = pd.read_csv(SAMPLE).rename(columns={"sentiment": "label"}).head(400)
    sample["label"] = sample["label"].str.lower()
    probabilities = score_frame(models, version, sample["text"]).filter(like="prob_")
    labels = models.metadata(version)["labels"]
    saved = predictions_frame(sample, probabilities.to_numpy(), labels)
    path = cached_path(models, version)  # where `errors --data` keeps them once computed
    path.parent.mkdir(parents=True)
    saved.to_csv(path, index=False)
    code, out, err = drift("--current", texts_csv, "--json", models=models, capsys=capsys)
    assert code == 0, err
    findings = json.loads(out)
    assert findings["reference_texts"] == 400
    assert findings["reference"]["kind"] == "test predictions"
    assert findings["estimated_accuracy"]["calibration_texts"] == 400


def test_without_a_test_part_the_newest_evaluation_is_the_reference_and_it_says_so(
    models, texts_csv, capsys
):
    version = models.active_version()
    (evaluation,) = models.evaluations(version)  # the shipped one, on data/sample.csv
    code, out, err = drift("--current", texts_csv, "--json", models=models, capsys=capsys)
    assert code == 0, err
    findings = json.loads(out)
    assert findings["reference"]["kind"] == "evaluation"
    assert findings["reference_texts"] == evaluation["data"]["rows_used"]
    assert "reference: the version's newest evaluation, data/sample.csv" in err


def test_without_a_test_part_an_evaluation_or_a_reference_it_says_what_to_give(
    tmp_path, texts_csv, capsys
):
    bare = Registry(tmp_path / "models")
    bare.copy_in(Registry(config.DEFAULT_MODELS_DIR), shipped_version("fasttext"))
    shutil.rmtree(tmp_path / "models" / EVALUATIONS_DIR)
    code, out, err = drift("--version", shipped_version("fasttext"), "--current", texts_csv,
                           models=bare, capsys=capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Give a CSV of texts" in err and "--reference" in err


def test_a_log_uses_its_stored_probabilities_and_only_the_versions_rows(models, tmp_path, capsys):
    version = models.active_version()
    texts = pd.read_csv(SAMPLE)["text"].head(260).tolist()
    log = tmp_path / "log.csv"
    log_csv(log, models, version, texts, [version] * 250 + ["another-version"] * 10)
    frame = pd.read_csv(log)
    frame.loc[:, "predicted"] = "positive"  # stored guesses the model would not make now
    frame = frame.drop(columns="text")  # a deployment that keeps hashes only
    frame.to_csv(log, index=False)
    code, out, err = drift("--current", log, "--reference", SAMPLE, "--json",
                           models=models, capsys=capsys)  # fmt: skip
    assert code == 0, err
    findings = json.loads(out)
    assert findings["texts"] == 250 and findings["current"]["rows_of_other_versions"] == 10
    assert "log.csv: left out 10 of 260 rows, logged by other versions" in err
    assert findings["label_mix"]["current"]["positive"] == 1.0 and findings["drift"] is True
    assert "hashes" in findings["text"]["skipped"]


def test_a_log_of_another_version_is_refused(models, tmp_path, capsys):
    version = models.active_version()
    log = tmp_path / "log.csv"
    texts = pd.read_csv(SAMPLE)["text"].head(MIN_WINDOW_TEXTS).tolist()
    log_csv(log, models, version, texts, "20250101-000000-abcd")
    code, out, err = drift("--current", log, "--reference", SAMPLE, models=models, capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert f"this log is from version 20250101-000000-abcd, not {version}" in err


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ({"id": ["1", "2"], "score": ["0.5", "3"]}, "has no column of texts"),
        ({"text": ["a few words"] * 10}, "has 10 texts; drift is judged on at least "),
    ],
    ids=["no text column", "too small"],
)
def test_a_window_it_cannot_judge_is_refused_in_one_line(models, tmp_path, capsys, rows, fragment):
    window = tmp_path / "window.csv"
    pd.DataFrame(rows).to_csv(window, index=False)
    code, out, err = drift("--current", window, "--reference", SAMPLE, models=models,
                           capsys=capsys)  # fmt: skip
    assert code == 2 and out == ""
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert fragment in error and "Traceback" not in err


def test_drift_works_on_an_object_store_registry(tmp_path, texts_csv, capsys):
    version = shipped_version("fasttext")
    remote = Registry(f"memory://drift-{time.time_ns()}")
    remote.copy_in(Registry(config.DEFAULT_MODELS_DIR), version)
    code, out, err = drift("--version", version, "--current", texts_csv, "--reference", SAMPLE,
                           "--json", models=remote, capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["version"] == version


def test_a_reader_that_stops_early_ends_the_command_without_a_traceback():
    script = (
        "import sys\nfrom pipeline.cli import run\n"
        "def main(argv):\n    for _ in range(20000):\n        print('x' * 100)\n    return 0\n"
        "sys.exit(run(main))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=config.PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    process.stdout.read(10)
    process.stdout.close()  # as `| head -c 10` does
    _, err = process.communicate(timeout=60)
    assert process.returncode == BROKEN_PIPE_EXIT
    assert err == b""
