"""Sweeps across machines: two worker processes on one Optuna study, in a real PostgreSQL
server (tests/postgres_server.py) and in a journal file; the Sweep view attached to it."""

import socket
import subprocess
import sys
from types import SimpleNamespace

import optuna
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.cli import run
from pipeline.registry import Registry
from pipeline.sweep.results import COMPLETE
from pipeline.sweep.shared import load_shared_study, redact
from tests.postgres_server import postgres_url  # noqa: F401 (a fixture)

# Every trial as small as a test allows (as in tests/test_sweep.py); two parameters searched.
FIXED = {"epochs": 1, "vocab_size": 1000, "embedding_dim": 8, "batch_size": 64,
         "sequence_length": 64}  # fmt: skip
SEARCH = {"learning_rate": ("1e-3", "1e-2"), "dropout": ("0", "0.5")}
TRIALS = 4
APP = str(config.PROJECT_ROOT / "streamlit_app.py")
WORKER_TIMEOUT_SECONDS = 240


def sweep_argv(storage: str, study: str, models: str, trials: int = TRIALS, search=SEARCH):
    narrowed = [w for name, (low, high) in search.items() for w in ("--param", name, low, high)]
    fixed = [w for name, value in FIXED.items() for w in ("--set", name, str(value))]
    return ["sweep", "--data", str(config.SAMPLE_DATA_PATH), "--models-dir", models,
            "--trials", str(trials), "--search", *search, *narrowed, *fixed, "--storage", storage,
            "--study", study]  # fmt: skip


def start_workers(storage: str, study: str, models, count: int = 2) -> list[subprocess.Popen]:
    """`count` worker processes running the same command on one study."""
    argv = [sys.executable, "-m", "pipeline", *sweep_argv(storage, study, str(models))]
    return [subprocess.Popen(argv, cwd=config.PROJECT_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(count)]  # fmt: skip


def finish(workers: list[subprocess.Popen], storage: str, study: str, models) -> SimpleNamespace:
    outputs = [worker.communicate(timeout=WORKER_TIMEOUT_SECONDS) for worker in workers]
    return SimpleNamespace(codes=[w.returncode for w in workers], outputs=outputs,
                           storage=storage, study=study, registry=Registry(models))  # fmt: skip


@pytest.fixture(scope="module")
def journal_workers(tmp_path_factory):
    """Two workers on a journal-file study, started at once (they overlap the PostgreSQL
    ones, so the file's tests wait for both only once)."""
    folder = tmp_path_factory.mktemp("journal")
    storage, models = f"journal:{folder / 'sweeps.log'}", folder / "models"
    return start_workers(storage, "gop-journal", models), storage, models


@pytest.fixture(scope="module")
def postgres_sweep(postgres_url, journal_workers, tmp_path_factory):  # noqa: F811
    models = tmp_path_factory.mktemp("pg") / "models"
    workers = start_workers(postgres_url, "gop-fasttext", models)
    return finish(workers, postgres_url, "gop-fasttext", models)


@pytest.fixture(scope="module")
def journal_sweep(journal_workers):
    workers, storage, models = journal_workers
    return finish(workers, storage, "gop-journal", models)


def check_one_study(sweep: SimpleNamespace) -> None:
    """Every trial recorded once, the total as asked, each completed trial's version saved."""
    assert sweep.codes == [0, 0], [err for _, err in sweep.outputs]
    study = load_shared_study(sweep.storage, sweep.study)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == list(range(TRIALS))  # no duplicate, no gap
    assert all(t.state.is_finished() for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers ran trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete
    versions = {row["version"]: row for row in sweep.registry.list()}
    assert len(versions) == len(complete)  # pruned trials save nothing
    for trial in complete:
        saved = versions[trial.user_attrs["version"]]
        assert saved["tags"] == {"sweep": sweep.study, "trial": trial.number}
        assert trial.user_attrs["state"] == COMPLETE
    for _, err in sweep.outputs:  # each worker's own lines say its trials are shared
        assert "by this worker" in err and "(trials done)" in err


def test_two_workers_on_one_postgres_study_run_each_trial_once_and_save_its_version(
    postgres_sweep,
):
    check_one_study(postgres_sweep)
    table_lines = postgres_sweep.outputs[0][0].strip().splitlines()
    assert "worker" in table_lines[0] and len(table_lines) == 1 + TRIALS  # every worker's


def test_two_workers_on_one_journal_file_study_do_the_same(journal_sweep):
    check_one_study(journal_sweep)


def test_a_worker_joining_a_finished_study_runs_no_trial(postgres_sweep, capsys):
    from pipeline.__main__ import main

    before = postgres_sweep.registry.versions()
    argv = sweep_argv(postgres_sweep.storage, postgres_sweep.study,
                      str(postgres_sweep.registry.root))  # fmt: skip
    assert run(main, argv) == 0
    assert "no trials by this worker" in capsys.readouterr().err
    assert postgres_sweep.registry.versions() == before
    assert len(load_shared_study(postgres_sweep.storage, postgres_sweep.study).trials) == TRIALS


def test_a_worker_with_another_search_space_is_refused(journal_sweep, capsys, tmp_path):
    from pipeline.__main__ import main

    argv = sweep_argv(journal_sweep.storage, journal_sweep.study, str(tmp_path),
                      search={"dropout": ("0", "0.2")})  # fmt: skip
    assert run(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Run every worker of a study with the same settings" in err[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        # The port is chosen in the test: parameters must be the same in every xdist worker.
        ("postgresql://me:hunter2-secret@127.0.0.1:{closed_port}/db",
         "Cannot open the sweep storage postgresql://me:***@127.0.0.1"),
        ("postgresql://me:hunter2-secret@/db?host=/nonexistent", "Cannot open the sweep storage"),
        ("nonsense:/hunter2-secret@x", "(starting nonsense:) is not a sweep storage URL"),
        ("journal:/no/such/folder/sweeps.log", "folder /no/such/folder does not exist"),
    ],
)  # fmt: skip
def test_an_unreachable_or_malformed_storage_is_one_line_without_the_password(
    storage, message, tmp_path
):
    storage = storage.replace("{closed_port}", str(_closed_port()))
    argv = [sys.executable, "-m", "pipeline", *sweep_argv(storage, "s", str(tmp_path))]
    done = subprocess.run(argv, cwd=config.PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "hunter2-secret" not in done.stderr + done.stdout
    assert Registry(tmp_path).versions() == []


def test_redact_hides_only_the_password():
    assert redact("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h:5432/db") == "postgresql://u@h:5432/db"
    assert redact("journal:/shared/s.log") == "journal:/shared/s.log"


def test_the_sweep_view_attaches_to_a_study_and_shows_every_workers_trials(
    postgres_sweep, monkeypatch, fresh_caches
):
    # The trust server ignores a password, so one can be given and checked to stay hidden.
    scheme, rest = postgres_sweep.storage.split("://", 1)
    user, host = rest.split("@", 1)
    with_password = f"{scheme}://{user}:pw-not-shown@{host}"
    monkeypatch.setenv(config.SWEEP_STORAGE_ENV, with_password)
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(postgres_sweep.registry.root))
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    at = at.radio(key="retrain_mode").set_value("Sweep hyperparameters").run()
    assert not at.exception
    assert postgres_sweep.study in at.selectbox(key="sweep_study").options
    at = at.selectbox(key="sweep_study").select(postgres_sweep.study).run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "worker" in d.value.columns)
    assert sorted(table["trial"]) == list(range(TRIALS)) and table["worker"].nunique() == 2
    saved = set(postgres_sweep.registry.versions())
    assert set(table.loc[table["state"] == COMPLETE, "version"]) == saved
    shown = " ".join(c.value for c in [*at.caption, *at.markdown])
    assert "2 workers" in shown.replace("\\", "") and "pw-not-shown" not in shown
    assert at.get("progress")
