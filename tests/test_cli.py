"""The command-line tools: outputs, --json, and exit code 2 with one line for user errors."""

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import record_rows_held, run_cli

from pipeline.params import param_specs


def assert_user_error(result, fragment):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


def test_train_json_prints_the_new_version_last(tmp_path, sample_csv):
    result = run_cli(
        "train.py", "--data", str(sample_csv), "--models-dir", str(tmp_path),
        "--epochs", "2", "--vocab-size", "1000", "--embedding-dim", "8", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"version", "path", "metrics", "train_seconds"} <= set(summary)
    assert 0 <= summary["metrics"]["accuracy"] <= 1 and "macro_f1" in summary["metrics"]
    folder = Path(summary["path"])
    assert (folder / "model.keras").is_file()
    assert "epoch 1/2" in result.stderr  # progress is shown while it trains
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["reproduce"].startswith("python train.py --data")


def test_train_help_lists_every_hyperparameter_with_default_and_range():
    result = run_cli("train.py", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps long help lines
    for spec in param_specs():
        flag = "--arch" if spec.name == "architecture" else "--" + spec.name.replace("_", "-")
        assert f"{flag} " in text
        assert f"default: {spec.default}" in text
        assert spec.describe_range() in text


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--units", "5000"], "units must be 8 to 1024"),
        (["--data", "missing.csv"], "Data file not found"),
        (
            ["--data", "data/sample.csv", "--text-column", "tweet"],
            "Columns present: text, sentiment",
        ),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_train_user_errors_exit_2_with_one_line(args, fragment, tmp_path):
    assert_user_error(run_cli("train.py", "--models-dir", str(tmp_path), *args), fragment)


def test_predict_texts_prints_label_and_every_probability(tiny_models_dir):
    result = run_cli(
        "-m", "pipeline", "predict", "great night", "awful", models_dir=tiny_models_dir
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    label, probabilities, text = lines[0].split("\t")
    assert label in ("negative", "neutral", "positive") and text == "great night"
    shares = dict(item.split("=") for item in probabilities.split())
    assert set(shares) == {"negative", "neutral", "positive"}
    assert abs(sum(map(float, shares.values())) - 1) < 0.01


def test_predict_csv_writes_input_columns_plus_predictions(tiny_models_dir, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "tweet": ["great", "bad", "ok"]}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    result = run_cli(
        "-m", "pipeline", "predict", "--input", str(source), "--output", str(out),
        "--text-column", "tweet", "--models-dir", str(tiny_models_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scored = pd.read_csv(out)
    assert list(scored.columns) == [
        "id", "tweet", "predicted_label", "prob_negative", "prob_neutral", "prob_positive"
    ]  # fmt: skip
    assert scored["id"].tolist() == [1, 2, 3]


def test_predict_csv_with_a_missing_column_leaves_no_output(tiny_models_dir, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"tweet": ["great"]}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    result = run_cli(
        "-m", "pipeline", "predict", "--input", str(source), "--output", str(out),
        "--text-column", "text", models_dir=tiny_models_dir,
    )  # fmt: skip
    assert_user_error(result, "no column 'text'")
    assert list(tmp_path.iterdir()) == [source]


def test_predict_unknown_version_exits_2(tiny_models_dir):
    result = run_cli(
        "-m", "pipeline", "predict", "x", "--version", "v0", models_dir=tiny_models_dir
    )
    assert_user_error(result, "Unknown model version 'v0'")


def test_models_lists_versions_and_marks_the_active_one(tiny_models_dir):
    result = run_cli("-m", "pipeline", "models", models_dir=tiny_models_dir)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.strip().splitlines()[1:]
    assert len(rows) == 1 and rows[0].startswith("* ") and "sample.csv" in rows[0]


def test_csv_scoring_holds_one_chunk_at_a_time(tiny_models_dir, tmp_path, monkeypatch):
    import pipeline.predict as predict

    source = tmp_path / "big.csv"
    pd.DataFrame({"text": [f"tweet {i}, =1+{i}" for i in range(537)]}).to_csv(source, index=False)
    held = record_rows_held(monkeypatch)
    progress = []
    predictor = predict.load_predictor(tiny_models_dir)
    rows = predict.score_csv(
        predictor, source, tmp_path / "out.csv", chunk_rows=100,
        on_progress=lambda rows, share: progress.append((rows, share)),
    )  # fmt: skip
    assert rows == 537 and max(held) == 100 and sum(held) == 537
    assert [done for done, _ in progress] == [100, 200, 300, 400, 500, 537]
    shares = [share for _, share in progress]
    assert shares == sorted(shares) and shares[-1] == 1.0
    scored = pd.read_csv(tmp_path / "out.csv")
    assert len(scored) == 537
    assert scored["text"].str.startswith("tweet").all()  # text cells with "=" stay as they were
