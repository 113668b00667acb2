"""Hostile files through the command lines: a correct result or one clear message, never a crash.

The entry points are the predict CLI (`python -m pipeline predict --input`), the Batch tab's
upload, the labelled upload of the Data and Retrain tabs, and `train.py --data`. A refusal is
a message naming what is wrong (an `error:` line and exit code 2 on the command line, an
`st.error` in the app) and never a traceback; a failed CLI run leaves neither the output
nor its `.partial` file behind. Every file is generated here as bytes: nothing is committed.
"""

import functools
import importlib.util
import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import record_rows_held
from hostile_files import (
    BINARY,
    CASES,
    CLI_CASES,
    DECODED,
    MILLION,
    PROB_COLUMNS,
    TRAIN_OK,
    labelled,
    million_rows,
)

from pipeline import config
from pipeline.__main__ import main as pipeline_main
from pipeline.cli import run
from pipeline.csvfile import to_csv_bytes
from pipeline.predict import Predictor, score_csv
from pipeline.registry import Registry

# --- the predict CLI -----------------------------------------------------------------------


def predict_cli(tmp_path, models_dir, content: bytes) -> tuple[int, list[str]]:
    """Run `python -m pipeline predict --input ... --output out/scored.csv` in process.

    Returns:
        The exit code and the names of the files left in the output folder.
    """
    source = tmp_path / "in" / "upload.csv"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(content)
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    argv = ["predict", "--input", str(source), "--output", str(out_dir / "scored.csv")]
    code = run(pipeline_main, [*argv, "--models-dir", str(models_dir)])
    return code, sorted(p.name for p in out_dir.iterdir())


def assert_cli_refused(code: int, stderr: str, fragment: str) -> None:
    assert code == 2, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and stderr.rstrip().endswith(errors[0]), stderr
    assert fragment in errors[0]


@pytest.mark.parametrize("name", CLI_CASES)
def test_the_predict_cli_scores_or_refuses_each_hostile_file(
    name, tmp_path, app_models_dir, capsys
):
    case = CASES[name]
    code, outputs = predict_cli(tmp_path, app_models_dir, case.data())
    stderr = capsys.readouterr().err
    if case.score is not None:
        assert_cli_refused(code, stderr, case.score)
        assert outputs == [], "a refused file left an output or .partial file"
        return
    assert code == 0, stderr
    assert outputs == ["scored.csv"]
    scored = pd.read_csv(tmp_path / "out" / "scored.csv", dtype=str, keep_default_na=False)
    assert len(scored) == case.rows
    assert {"predicted_label", *PROB_COLUMNS} <= set(scored.columns)
    if case.shows:
        assert scored["text"].str.startswith(case.shows).all()


def test_a_bad_row_deep_in_the_file_leaves_no_partial_output(tmp_path, tiny_models_dir, capsys):
    # The small fasttext model: what is tested is the chunked reading, not the scoring.
    rows = "".join(f"tweet {i},negative\n" for i in range(25_000))  # past two 10,000-row chunks
    content = f"text,sentiment\n{rows}a, comma too many,positive\n".encode()
    code, outputs = predict_cli(tmp_path, tiny_models_dir, content)
    stderr = capsys.readouterr().err
    assert_cli_refused(code, stderr, "line 25002 has 3 fields but the header has 2")
    assert outputs == []


@pytest.mark.parametrize(
    ("output", "fragment"),
    [
        ("missing-folder/scored.csv", "Cannot write"),
        (".", "is a folder; give a file name"),
        ("../in/upload.csv", "would overwrite the input upload.csv"),
    ],
)
def test_a_bad_output_path_is_refused_with_a_message(
    tmp_path, app_models_dir, capsys, output, fragment
):
    source = tmp_path / "in" / "upload.csv"
    source.parent.mkdir()
    source.write_bytes(labelled())
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / output
    argv = ["predict", "--input", str(source), "--output", str(target)]
    code = run(pipeline_main, [*argv, "--models-dir", str(app_models_dir)])
    assert_cli_refused(code, capsys.readouterr().err, fragment)
    assert source.read_bytes() == labelled()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["in", "out", "upload.csv"]


def test_a_missing_input_file_is_named(tmp_path, app_models_dir, capsys):
    argv = ["predict", "--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o.csv")]
    code = run(pipeline_main, [*argv, "--models-dir", str(app_models_dir)])
    assert_cli_refused(code, capsys.readouterr().err, f"Input file not found: {tmp_path}/nope.csv")
    assert list(tmp_path.iterdir()) == []


def test_the_real_command_prints_one_line_for_a_binary_file(tmp_path, app_models_dir):
    source = tmp_path / "photo.csv"
    source.write_bytes(CASES["PNG image"].data())
    command = [sys.executable, "-m", "pipeline", "predict", "--input", str(source)]
    command += ["--output", str(tmp_path / "out.csv"), "--models-dir", str(app_models_dir)]
    result = subprocess.run(
        command, cwd=config.PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr == f"error: photo.csv {BINARY}. Use a comma-separated text file.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.csv"]


def test_the_cli_scores_a_million_rows_one_chunk_at_a_time(
    tmp_path, app_models_dir, capsys, monkeypatch
):
    # A stub model keeps this at a few seconds; reading, chunking and writing run at full
    # size. (The real NumPy model takes about 45 s on this file; see the README.)
    import pipeline.predict as predict

    labels = ["negative", "neutral", "positive"]
    stub = Predictor(lambda texts: np.tile(np.float32([0.2, 0.3, 0.5]), (len(texts), 1)), labels)
    monkeypatch.setattr(predict, "load_predictor", lambda *args, **kwargs: stub)
    held = record_rows_held(monkeypatch)
    code, outputs = predict_cli(tmp_path, app_models_dir, million_rows())
    assert code == 0, capsys.readouterr().err
    assert outputs == ["scored.csv"]
    assert sum(held) == MILLION and max(held) == 10_000  # never more than a chunk in memory
    with open(tmp_path / "out" / "scored.csv", "rb") as scored:
        assert sum(1 for _ in scored) == MILLION + 1


# --- train.py --data -----------------------------------------------------------------------


@functools.cache
def train_script():
    """train.py at the project root, loaded as a module so it runs in this process."""
    spec = importlib.util.spec_from_file_location("train_script", config.PROJECT_ROOT / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [name for name in CASES if name not in TRAIN_OK])
def test_train_py_refuses_each_unusable_file_with_one_line(name, tmp_path, capsys):
    source = tmp_path / "upload.csv"
    source.write_bytes(CASES[name].data())
    argv = ["--data", str(source), "--models-dir", str(tmp_path / "models")]
    code = run(train_script().main, argv)
    assert_cli_refused(code, capsys.readouterr().err, CASES[name].train)
    assert not (tmp_path / "models").exists() or not Registry(tmp_path / "models").versions()


def test_train_py_trains_on_utf16_with_stray_label_spaces(tmp_path, capsys):
    # One real (tiny) training: the decoded, normalised rows reach a saved model.
    source = tmp_path / "mine.csv"
    labels = (" Positive ", "NEGATIVE", "positive", "Negative ")
    source.write_bytes(labelled(6, labels, text=DECODED + " {i}", encoding="utf-16"))
    argv = ["--data", str(source), "--models-dir", str(tmp_path / "models"), "--json"]
    argv += ["--epochs", "1", "--vocab-size", "1000", "--embedding-dim", "8"]
    assert run(train_script().main, argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    meta = Registry(tmp_path / "models").metadata(summary["version"])
    assert meta["labels"] == ["negative", "positive"]
    assert meta["data"]["name"] == "mine.csv" and meta["data"]["rows_used"] == 24


def test_the_upload_cap_is_set_for_the_server_and_the_row_caps_are_below_it():
    # Streamlit enforces the upload cap before the app sees a byte, so AppTest cannot
    # exercise it. A 1,000,000-row file fits under it: the app's row caps must refuse it.
    settings = (config.PROJECT_ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r"^maxUploadSize = 50$", settings, re.MULTILINE)
    assert len(million_rows()) < 50 * 1024 * 1024


# --- formula cells in scored files ---------------------------------------------------------

FORMULAS = [
    ("=1+1", "'=1+1"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-3.5", "-3.5"),
    ("+7", "+7"),
    ("1e-5", "1e-5"),
    ("a = b + c", "a = b + c"),
    ("", ""),
]


def _score_with_the_cli_path(frame: pd.DataFrame, tmp_path) -> bytes:
    stub = Predictor(lambda texts: np.full((len(texts), 2), 0.5, dtype=np.float32), ["=a", "b"])
    frame.to_csv(tmp_path / "in.csv", index=False, lineterminator="\r\n")  # quotes the CR
    score_csv(stub, tmp_path / "in.csv", tmp_path / "out.csv")
    return (tmp_path / "out.csv").read_bytes()


def _score_for_the_download(frame: pd.DataFrame, tmp_path) -> bytes:
    return to_csv_bytes(frame.assign(predicted_label="=a", **{"prob_=a": 0.5, "prob_b": 0.5}))


@pytest.mark.parametrize("write", [_score_with_the_cli_path, _score_for_the_download])
def test_scored_files_make_formula_cells_inert_and_leave_numbers_alone(write, tmp_path):
    cells = [cell for cell, _ in FORMULAS]
    frame = pd.DataFrame({"text": cells, "=HYPERLINK(1)": cells})
    written = pd.read_csv(io.BytesIO(write(frame, tmp_path)), dtype=str, keep_default_na=False)
    expected = [inert for _, inert in FORMULAS]
    assert list(written.columns[:2]) == ["text", "'=HYPERLINK(1)"]  # header cells too
    assert written["text"].tolist() == expected  # also: the CR cell did not split its row
    assert written["'=HYPERLINK(1)"].tolist() == expected
    assert set(written["predicted_label"]) == {"'=a"}
