"""The prediction log (pipeline.monitor.log): off by default; texts or hashes; local and on
a real S3 server; concurrent writers in several processes lose nothing; the REST API and
batch scoring append."""

import hashlib
import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import api
from pipeline import config
from pipeline.__main__ import main
from pipeline.cli import run
from pipeline.errors import DataError, StoreUnavailable
from pipeline.monitor import log as prediction_log
from pipeline.monitor.log import (
    SETTING_ENV,
    PredictionLog,
    flush_shared,
    log_location,
    log_mode,
    log_predictions,
    make_batch,
)
from pipeline.predict import load_predictor
from pipeline.registry import Registry
from tests.conftest import shipped_version
from tests.test_object_store import s3_endpoint, s3_env  # noqa: F401  fixtures

LABELS = ["negative", "neutral", "positive"]


def probabilities(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet([1, 1, 1], size=n)


def read(models_dir):
    return PredictionLog(log_location(models_dir)).read()


def test_off_by_default_and_a_bad_setting_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv(SETTING_ENV, raising=False)
    assert log_mode() == "off"
    assert not log_predictions(["hello"], probabilities(1), LABELS, "v1", "api", tmp_path)
    assert flush_shared(tmp_path) == 0
    assert not (tmp_path / ".predictions").exists()

    monkeypatch.setenv(SETTING_ENV, "yes please")
    with pytest.raises(DataError, match="can be one of off, texts, hashes"):
        log_mode()
    # The answer was given: a bad setting is reported where it is read, never on the way.
    assert not log_predictions(["hello"], probabilities(1), LABELS, "v1", "api", tmp_path)
    assert not (tmp_path / ".predictions").exists()


def test_texts_are_kept_with_every_probability(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTING_ENV, "texts")
    probs = probabilities(3)
    texts = ["great debate", "WORST SHOW EVER", "who won?"]
    assert log_predictions(texts, probs, LABELS, "v1", "dashboard", tmp_path)
    assert flush_shared(tmp_path) == 3
    frame = read(tmp_path)
    assert frame["text"].tolist() == texts
    assert frame["version"].tolist() == ["v1"] * 3
    assert frame["source"].tolist() == ["dashboard"] * 3
    assert frame["predicted"].tolist() == [LABELS[i] for i in probs.argmax(axis=1)]
    np.testing.assert_allclose(frame["confidence"], probs.max(axis=1))
    np.testing.assert_allclose(frame[[f"prob_{label}" for label in LABELS]], probs)
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["text_sha256"][0] == hashlib.sha256(b"great debate").hexdigest()


def test_hashes_mode_keeps_no_text(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTING_ENV, "hashes")
    log_predictions(["a secret text"], probabilities(1), LABELS, "v1", "api", tmp_path)
    flush_shared(tmp_path)
    stored = (tmp_path / ".predictions" / "log.jsonl").read_text()
    assert "secret" not in stored
    frame = read(tmp_path)
    assert frame["text"].isna().all()
    assert frame["text_sha256"][0] == hashlib.sha256(b"a secret text").hexdigest()


def test_the_background_thread_writes_without_a_flush(tmp_path, monkeypatch):
    monkeypatch.setattr(prediction_log, "FLUSH_SECONDS", 0.05)
    log = PredictionLog(str(tmp_path / ".predictions"))
    log.append(make_batch(["one"], probabilities(1), LABELS, "v1", "api", True))
    path = tmp_path / ".predictions" / "log.jsonl"
    for _ in range(100):
        if path.is_file() and path.read_text():
            break
        log._wake.wait(0.05)
    assert json.loads(path.read_text())["text"] == "one"
    assert log.pending == 0


def test_a_failed_write_keeps_the_records_for_the_next_flush(tmp_path):
    blocked = tmp_path / "models"
    blocked.write_text("a file where the models folder should be")
    log = PredictionLog(str(blocked / ".predictions"))
    log.append(make_batch(["kept"], probabilities(1), LABELS, "v1", "api", True))
    with pytest.raises(StoreUnavailable, match="prediction log could not be written"):
        log.flush()
    assert log.pending == 1
    blocked.unlink()
    log.flush()
    assert log.pending == 0
    assert log.read()["text"].tolist() == ["kept"]


def test_a_line_cut_short_by_a_crash_is_skipped_and_counted(tmp_path):
    log = PredictionLog(str(tmp_path / ".predictions"))
    log.append(make_batch(["whole"], probabilities(1), LABELS, "v1", "api", True))
    log.flush()
    with open(tmp_path / ".predictions" / "log.jsonl", "a") as handle:
        handle.write('{"time": "2026-12-07T10:00:00+00:00", "vers')
    frame = log.read()
    assert frame["text"].tolist() == ["whole"]
    assert frame.attrs["unreadable"] == 1


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from pipeline.monitor.log import PredictionLog, make_batch
    location, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = PredictionLog(location)
    for i in range(rounds):
        texts = [f"{name}-{i}-{j}" for j in range(5)]
        probs = np.full((5, 3), 1 / 3)
        log.append(make_batch(texts, probs, ["a", "b", "c"], "v1", "api", True))
        if i % 7 == 0:
            log.flush()
    log.flush()
    """
)


def test_concurrent_writers_in_several_processes_lose_nothing(tmp_path):
    location = str(tmp_path / ".predictions")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, location, f"w{n}", "40"], cwd=config.PROJECT_ROOT
        )
        for n in range(4)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0] * 4
    texts = PredictionLog(location).read()["text"].tolist()
    expected = {f"w{n}-{i}-{j}" for n in range(4) for i in range(40) for j in range(5)}
    assert len(texts) == len(expected) and set(texts) == expected


def test_on_object_storage_concurrent_writers_lose_nothing(s3_env):  # noqa: F811
    location = log_location(s3_env["url"])
    assert location == f"{s3_env['url']}/.predictions"

    def write(n: int) -> None:
        log = PredictionLog(location)
        for i in range(10):
            texts = [f"w{n}-{i}-{j}" for j in range(3)]
            log.append(make_batch(texts, probabilities(3), LABELS, "v1", "api", True))
            log.flush()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    reader = PredictionLog(location)
    texts = reader.read()["text"].tolist()
    assert sorted(texts) == sorted(
        f"w{n}-{i}-{j}" for n in range(4) for i in range(10) for j in range(3)
    )
    listed = s3_env["client"].list_objects_v2(Bucket="models-bucket", Prefix=s3_env["prefix"])
    segments = [o["Key"] for o in listed["Contents"] if "/.predictions/" in o["Key"]]
    assert len(segments) == 40 and all(key.endswith(".jsonl") for key in segments)
    # A second read finds a segment written since the first.
    late = PredictionLog(location)
    late.append(make_batch(["later"], probabilities(1), LABELS, "v1", "api", True))
    late.flush()
    assert "later" in reader.read()["text"].tolist()


def test_the_api_appends_what_it_answered(api_models_dir, monkeypatch):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(api_models_dir))
    monkeypatch.setenv(SETTING_ENV, "texts")
    with TestClient(api.app) as client:
        answer = client.post("/predict", json={"texts": ["great debate", "awful night"]}).json()
    flush_shared(str(api_models_dir))
    frame = read(api_models_dir)
    assert frame["text"].tolist() == ["great debate", "awful night"]
    assert frame["source"].unique().tolist() == ["api"]
    assert frame["version"].unique().tolist() == [answer["version"]]
    assert frame["predicted"].tolist() == [p["label"] for p in answer["predictions"]]


def test_batch_scoring_appends_every_row_and_says_so(api_models_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SETTING_ENV, "hashes")
    source = tmp_path / "tweets.csv"
    texts = [f"tweet number {i}, what a debate" for i in range(25)]
    pd.DataFrame({"id": range(25), "text": texts}).to_csv(source, index=False)
    models = str(api_models_dir)
    args = [
        "predict",
        "--models-dir",
        models,
        "--input",
        str(source),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert main(args) == 0
    assert "appended 25 predictions to the prediction log" in capsys.readouterr().err
    frame = read(api_models_dir)
    assert frame["text_sha256"].tolist() == [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    assert frame["source"].unique().tolist() == ["batch"]
    predictor = load_predictor(models)
    np.testing.assert_allclose(
        frame[[f"prob_{label}" for label in predictor.labels]],
        predictor.predict_proba(texts),
        atol=1e-6,
    )


@pytest.fixture(scope="module")
def api_models_dir(tiny_models_dir, tmp_path_factory):
    """A copy of the tiny registry, its log emptied before each use by `fresh_log`."""
    import shutil

    target = tmp_path_factory.mktemp("logged") / "models"
    shutil.copytree(tiny_models_dir, target, ignore=shutil.ignore_patterns(".tmp-*", "*.lock"))
    return target


@pytest.fixture(autouse=True)
def fresh_log(request):
    if "api_models_dir" in request.fixturenames:
        import shutil

        shutil.rmtree(request.getfixturevalue("api_models_dir") / ".predictions", True)
    yield


def test_drift_judges_the_registrys_own_log_on_s3(s3_env, capsys, monkeypatch):  # noqa: F811
    """Predictions logged beside a registry on S3, then `drift --current log` on that registry
    (the shipped fasttext version, whose reference is its evaluation on data/sample.csv)."""
    version = shipped_version("fasttext")
    remote = Registry(s3_env["url"])
    remote.copy_in(Registry(config.DEFAULT_MODELS_DIR), version)
    remote.promote(version)
    monkeypatch.setenv(SETTING_ENV, "texts")
    predictor = load_predictor(s3_env["url"], version)
    texts = pd.read_csv(config.SAMPLE_DATA_PATH)["text"].head(260).tolist()
    log_predictions(texts, predictor.predict_proba(texts), predictor.labels, version, "api",
                    s3_env["url"])  # fmt: skip
    assert flush_shared(s3_env["url"]) == 260
    code = run(main, ["drift", "--current", "log", "--last", "250", "--json",
                      "--models-dir", s3_env["url"]])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    findings = json.loads(out)
    assert findings["version"] == version and findings["texts"] == 250
    assert findings["current"]["kind"] == "prediction log"
    assert findings["reference"]["kind"] == "evaluation"
    assert findings["drift"] is False  # the sample's own texts against the sample


def test_drift_on_an_empty_log_says_how_to_turn_it_on(api_models_dir, capsys):
    code = run(main, ["drift", "--current", "log", "--models-dir", str(api_models_dir)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "prediction log at" in err and "is empty" in err and SETTING_ENV in err
