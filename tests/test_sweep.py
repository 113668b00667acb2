"""Hyperparameter sweeps: the search space, trials as versions, pruning, cancel, the CLI, and
the Retrain tab's Sweep mode (AppTest)."""

import io
import json
import shutil
import threading
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.cli import run
from pipeline.data import load_labelled_data
from pipeline.errors import ParameterError
from pipeline.params import resolve_params
from pipeline.registry import Registry
from pipeline.sweep.results import (
    CANCELLED,
    COMPLETE,
    PRUNED,
    best_trial,
    describe_best,
    list_sweeps,
    read_record,
    record_path,
    sweep_table,
)
from pipeline.sweep.run import run_sweep
from pipeline.sweep.space import SweepPlan, build_space, default_trial
from ui.job_view import get_runner

# Every trial as small as a test allows; the sweep searches only these two.
FIXED = {"epochs": 2, "vocab_size": 1000, "embedding_dim": 8, "batch_size": 64,
         "sequence_length": 64}  # fmt: skip
RANGES = {"learning_rate": [1e-3, 1e-2], "dropout": [0.0, 0.5]}
APP = str(config.PROJECT_ROOT / "streamlit_app.py")


@pytest.fixture(scope="module")
def sample_data():
    return load_labelled_data(config.SAMPLE_DATA_PATH)


def plan_of(trials: int, **fixed) -> SweepPlan:
    return SweepPlan("fasttext", trials, build_space("fasttext", [], RANGES), fixed={**FIXED,
                     **fixed})  # fmt: skip


@pytest.fixture(scope="module")
def cli_sweep(tmp_path_factory) -> SimpleNamespace:
    """A 3-trial sweep of data/sample.csv through the CLI with --promote-best, run once for
    the tests that only read it."""
    from pipeline.__main__ import main

    root = tmp_path_factory.mktemp("sweep-models")
    narrowed = [word for name, (low, high) in RANGES.items()
                for word in ("--param", name, str(low), str(high))]  # fmt: skip
    fixed = [word for name, value in FIXED.items() for word in ("--set", name, str(value))]
    argv = ["sweep", "--data", str(config.SAMPLE_DATA_PATH), "--models-dir", str(root),
            "--trials", "3", "--search", *RANGES, *narrowed, *fixed, "--promote-best"]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(main, argv)
    registry = Registry(root)
    sweep = list_sweeps(registry)[0]
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue(),
                           registry=registry, sweep=sweep)  # fmt: skip


def sweep_versions(registry: Registry, sweep_id: str) -> dict[int, dict]:
    rows = [row for row in registry.list() if row["tags"].get("sweep") == sweep_id]
    return {row["tags"]["trial"]: row for row in rows}


def test_every_completed_trial_is_a_version_tagged_with_its_sweep(cli_sweep):
    record = read_record(cli_sweep.registry, cli_sweep.sweep)
    assert cli_sweep.code == 0 and record["stopped"] == "trials done"
    versions = sweep_versions(cli_sweep.registry, cli_sweep.sweep)
    complete = [t["number"] for t in record["trials"] if t["state"] == COMPLETE]
    assert sorted(versions) == complete and len(complete) == 3  # too few to prune
    assert len(cli_sweep.registry.versions()) == 3
    for number, meta in versions.items():
        assert meta["tags"] == {"sweep": cli_sweep.sweep, "trial": number}
        assert meta["params"]["seed"] == 42  # one split for the whole sweep
        data = f"--data {config.SAMPLE_DATA_PATH} --arch fasttext"
        assert meta["reproduce"].startswith(f"python train.py {data}")
    metas = list(versions.values())
    assert len({json.dumps(m["split"]["sizes"]) for m in metas}) == 1
    assert len({json.dumps(m["baseline"]["metrics"]) for m in metas}) == 1  # computed once


def test_the_table_is_sorted_by_validation_score_with_each_searched_parameter(cli_sweep):
    table = sweep_table(cli_sweep.registry, cli_sweep.sweep)
    assert {"learning_rate", "dropout", "test accuracy", "version", "seconds"} <= set(table)
    scored = table["validation score"].dropna().tolist()
    assert scored == sorted(scored, reverse=True)
    best = best_trial(table)
    meta = cli_sweep.registry.metadata(best["version"])
    validation = meta["validation_metrics"]
    assert best["validation score"] == pytest.approx(
        (validation["accuracy"] + validation["macro_f1"]) / 2
    )
    assert best["test accuracy"] == meta["metrics"]["accuracy"]


def test_the_first_trial_is_the_defaults_and_every_trial_stays_in_its_range(cli_sweep):
    versions = sweep_versions(cli_sweep.registry, cli_sweep.sweep)
    expected = resolve_params({**FIXED, "architecture": "fasttext"})
    assert versions[0]["params"] == expected.to_dict()  # exactly what a plain training would use
    table = sweep_table(cli_sweep.registry, cli_sweep.sweep)
    for name, (low, high) in RANGES.items():
        assert table[name].between(low, high).all()
    assert table["dropout"].nunique() == 3


def test_the_table_is_rebuilt_from_the_registry_without_the_local_record(cli_sweep):
    registry, sweep = cli_sweep.registry, cli_sweep.sweep
    before = sweep_table(registry, sweep)
    path = record_path(registry, sweep)
    saved = path.read_bytes()
    path.unlink()
    try:
        after = sweep_table(registry, sweep)
        assert sweep in list_sweeps(registry)
    finally:
        path.write_bytes(saved)
    assert after["version"].tolist() == before["version"].tolist()
    assert after["validation score"].tolist() == before["validation score"].tolist()
    assert {"dropout", "learning_rate"} <= set(after.columns)  # the values that differ


def test_the_cli_prints_progress_the_table_and_promotes_the_best(cli_sweep):
    assert "trial 0 (1 of 3): dropout=0.3 learning_rate=0.002" in cli_sweep.err
    assert "  epoch 2/2  val_accuracy" in cli_sweep.err
    assert cli_sweep.err.count(": complete, validation score") == 3
    lines = cli_sweep.out.strip().splitlines()
    assert lines[0].split()[:4] == ["trial", "state", "validation", "score"]
    assert "dropout" in lines[0] and "learning_rate" in lines[0] and len(lines) == 4
    best = lines[1].split()[-1]
    assert best == best_trial(sweep_table(cli_sweep.registry, cli_sweep.sweep))["version"]
    assert cli_sweep.registry.active_version() == best
    assert f"{best} is now active" in cli_sweep.err


def trials(*rows: tuple) -> pd.DataFrame:
    """A results table as sweep_table gives it: (trial, state, validation score, test accuracy,
    test macro-F1) per trial, best validation score first."""
    columns = ["trial", "state", "validation score", "test accuracy", "test macro-F1"]
    table = pd.DataFrame(rows, columns=columns).assign(version=lambda t: [f"v{n}" for n in t.trial])
    return table.sort_values("validation score", ascending=False, na_position="last")


def test_the_best_is_shown_beside_the_defaults_and_flagged_when_not_best_on_test():
    # Trial 2 is the best on validation; trial 0, the defaults, is better on test.
    lines = describe_best(trials((0, COMPLETE, 0.70, 0.73, 0.72), (1, COMPLETE, 0.61, 0.55, 0.54),
                                 (2, COMPLETE, 0.74, 0.70, 0.69)))  # fmt: skip
    assert lines[0] == ("Best: trial 2, version v2, validation score 0.740 (test accuracy 0.700, "
                        "macro-F1 0.690).")  # fmt: skip
    assert lines[1] == ("Trial 0, the defaults: validation score 0.700 (test accuracy 0.730, "
                        "macro-F1 0.720).")  # fmt: skip
    assert lines[2].startswith(
        "The best on validation is not the best on test: trial 0 (the defaults) scores higher "
        "there (test accuracy 0.730, macro-F1 0.720)."
    )
    # The best on both: no warning.
    lines = describe_best(trials((0, COMPLETE, 0.70, 0.68, 0.66), (1, COMPLETE, 0.75, 0.71, 0.70)))
    assert len(lines) == 2 and lines[1].startswith("Trial 0, the defaults: validation score 0.700")
    # Test scores are the mean of accuracy and macro-F1, as on validation: trial 1 wins on it.
    lines = describe_best(trials((0, COMPLETE, 0.75, 0.72, 0.60), (1, COMPLETE, 0.70, 0.70, 0.66)))
    assert lines[1] == "Trial 0 is the defaults: no searched values beat them on validation."
    assert "trial 1 scores higher there" in lines[2]
    # Trial 0 pruned (or its version deleted), and no trial completed at all.
    lines = describe_best(trials((0, PRUNED, None, None, None), (1, COMPLETE, 0.7, 0.7, 0.7)))
    assert lines[1].startswith("Trial 0 (the defaults) has no scores")
    assert describe_best(trials((0, PRUNED, None, None, None))) == []


def test_the_default_trial_is_clipped_into_a_narrowed_range():
    space = build_space("fasttext", [], {"dropout": [0.5, 0.6], "class_weighting": ["none"]})
    defaults = resolve_params({}).to_dict()
    assert default_trial(space, defaults) == {"dropout": 0.5, "class_weighting": "none"}


class PruneAfterFirstEpoch(optuna.pruners.BasePruner):
    """Prunes every trial but the first as soon as it reports an epoch."""

    def prune(self, study, trial) -> bool:
        return trial.number > 0 and bool(trial.intermediate_values)


def test_a_pruned_trial_stops_early_and_saves_no_version(sample_data, tmp_path):
    registry = Registry(tmp_path)
    plan = plan_of(2, epochs=3, patience=0)
    summary = run_sweep(sample_data, plan, registry, pruner=PruneAfterFirstEpoch())
    assert summary["counts"] == {COMPLETE: 1, PRUNED: 1}
    versions = sweep_versions(registry, summary["sweep"])
    assert list(versions) == [0] and versions[0]["epochs_run"] == 3
    table = sweep_table(registry, summary["sweep"])
    pruned = table[table["state"] == PRUNED].iloc[0]
    assert pruned["trial"] == 1 and pruned["epochs run"] == 1  # of 3
    assert pd.isna(pruned["version"])
    assert "stopped after epoch 1" in pruned["note"]


@pytest.mark.parametrize(
    ("names", "ranges", "message"),
    [
        ([], {"learning_rate": [0.5, 1]}, "learning_rate must be 1e-05 to 0.1; got 0.5"),
        ([], {"dropout": [0.5, 0.1]}, "low 0.5 is above high 0.1"),
        ([], {"dropout": [0.5]}, "give a low and a high value"),
        ([], {"class_weighting": ["nope"]}, "class_weighting must be one of none"),
        (["units"], {}, "units is not used by fasttext; searchable: vocab_size"),
        (["seed"], {}, "seed stays fixed for a whole sweep"),
        (["final_refit"], {}, "final_refit trains on the validation part"),
        (["colour"], {}, "Unknown hyperparameter colour"),
        ([], {"vocab_size": [500, 60_000]}, "vocab_size is capped at 50000 here"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_message(names, ranges, message):
    with pytest.raises(ParameterError) as refused:
        build_space("fasttext", names, ranges, caps={"vocab_size": 50_000})
    assert message in str(refused.value)


def test_a_bad_plan_is_refused():
    space = build_space("fasttext", [], RANGES)
    with pytest.raises(ParameterError, match="both searched and fixed"):
        SweepPlan("fasttext", 3, space, fixed={"dropout": 0.1})
    with pytest.raises(ParameterError, match="1 to 500 trials"):
        SweepPlan("fasttext", 0, space)
    with pytest.raises(ParameterError, match="final_refit trains on the validation part"):
        SweepPlan("fasttext", 3, space, fixed={"final_refit": "yes"}).base_params()


def test_cancel_stops_at_once_and_keeps_the_trials_already_saved(sample_data, tmp_path):
    registry, stop = Registry(tmp_path), threading.Event()
    trial = {"number": None}

    def report(event):
        if event["event"] == "trial":
            trial["number"] = event["trial"]
        if event["event"] == "batch" and trial["number"] == 1:
            stop.set()  # cancel in the middle of the second trial's first epoch

    summary = run_sweep(sample_data, plan_of(4), registry, report, stop)
    assert summary["stopped"] == "cancelled"
    assert list(sweep_versions(registry, summary["sweep"])) == [0]
    table = sweep_table(registry, summary["sweep"])
    assert table["trial"].tolist() == [0, 1]
    assert table["state"].tolist() == [COMPLETE, CANCELLED]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "dropout", "0.9", "1"], "dropout must be 0 to 0.8; got '0.9'"),
        (["--set", "architecture", "lstm"], "choose it, do not fix it"),
        (["--search", "units"], "units is not used by fasttext"),
        (["--trials", "0"], "1 to 500 trials"),
        (["--timeout", "-5"], "time budget must be positive"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(args, message, capsys, tmp_path):
    from pipeline.__main__ import main

    argv = ["sweep", "--data", "data/sample.csv", "--models-dir", str(tmp_path), *args]
    assert run(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert Registry(tmp_path).versions() == []


# --- the Retrain tab's Sweep mode -------------------------------------------------------


@pytest.fixture
def app_models(tmp_path, app_models_dir, monkeypatch):
    st.cache_data.clear()
    root = tmp_path / "models"
    shutil.copytree(app_models_dir, root)
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(root))
    yield root
    job = get_runner().current
    if job is not None:
        job.cancel()
        job.wait(timeout=120)
    st.cache_data.clear()


def open_sweep_mode(secrets: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in secrets.items():
        at.secrets[name] = value
    at.run()
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    return at.radio(key="retrain_mode").set_value("Sweep hyperparameters").run()


def test_the_sweep_mode_runs_a_sweep_shows_its_table_and_chart_and_promotes_the_best(
    app_models,
):
    at = open_sweep_mode({"admin_password": "s3cret", "require_password_to_train": False})
    assert not at.exception
    at.number_input(key="sweep_trials").set_value(2)
    at.number_input(key="sweep_minutes").set_value(0)
    at.multiselect(key="sweep_fasttext_search").set_value(["vocab_size", "epochs", "dropout"])
    for name, (low, high) in {"vocab_size": (500, 1000), "epochs": (1, 2)}.items():
        at.number_input(key=f"sweep_fasttext_{name}_low").set_value(low)
        at.number_input(key=f"sweep_fasttext_{name}_high").set_value(high)
    at = at.button(key="FormSubmitter:sweep_form-Start sweep").click().run()
    assert not at.exception and not at.error
    assert at.button(key="sweep_cancel")  # the live view, with its Cancel button
    state = get_runner().current.wait(timeout=300)
    assert state["status"] == "succeeded", state["error"]
    at.run()
    table = next(d.value for d in at.dataframe if "validation score" in d.value.columns)
    assert len(table) == 2 and {"vocab_size", "epochs", "dropout"} <= set(table.columns)
    assert table["vocab_size"].between(500, 1000).all() and table["epochs"].max() <= 2
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    registry = Registry(app_models)
    best = best_trial(sweep_table(registry, state["result"]["sweep"]))
    assert at.button(key="sweep_promote").disabled  # promoting needs the admin password
    at.text_input(key="admin_password_input").input("s3cret").run()
    at.button(key="sweep_promote").click().run()
    assert not at.exception
    assert registry.active_version() == best["version"]


def test_the_results_show_trial_0_beside_the_best_and_give_each_state_room(
    cli_sweep, monkeypatch, fresh_caches
):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(cli_sweep.registry.root))
    at = open_sweep_mode({})
    assert not at.exception
    versions = sweep_versions(cli_sweep.registry, cli_sweep.sweep)
    on_validation = {n: (m["validation_metrics"]["accuracy"] + m["validation_metrics"]["macro_f1"])
                     / 2 for n, m in versions.items()}  # fmt: skip
    on_test = {n: (m["metrics"]["accuracy"] + m["metrics"]["macro_f1"]) / 2
               for n, m in versions.items()}  # fmt: skip
    best = max(on_validation, key=on_validation.get)
    caption = next(c.value for c in at.caption if c.value.startswith("Best: trial"))
    defaults = versions[0]["metrics"]
    if best == 0:
        assert "Trial 0 is the defaults: no searched values beat them" in caption
    else:
        assert (
            f"Trial 0, the defaults: validation score {on_validation[0]:.3f} (test accuracy "
            f"{defaults['accuracy']:.3f}, macro-F1 {defaults['macro_f1']:.3f})"
        ) in caption
    warned = [w.value for w in at.warning if "is not the best on test" in w.value]
    assert bool(warned) == (max(on_test, key=on_test.get) != best)
    table = next(d for d in at.dataframe if "validation score" in d.value.columns)
    widths = {name: column.get("width") for name, column in json.loads(table.proto.columns).items()}
    assert widths["state"] >= 80 and widths["version"] >= 150  # "cancelled", a version id


def test_a_sweep_of_one_trial_says_trial_not_trials(app_models):
    at = open_sweep_mode({})
    at.number_input(key="sweep_trials").set_value(1)
    at.multiselect(key="sweep_fasttext_search").set_value(["epochs"])
    at.number_input(key="sweep_fasttext_epochs_low").set_value(1)
    at.number_input(key="sweep_fasttext_epochs_high").set_value(1)
    at = at.button(key="FormSubmitter:sweep_form-Start sweep").click().run()
    assert not at.exception and not at.error
    job = get_runner().current
    assert job.description == "a sweep of 1 fasttext trial on sample.csv"
    live = [c.value.replace("\\", "") for c in at.caption if c.value.startswith("a sweep of")]
    assert live and live[0].startswith("a sweep of 1 fasttext trial on sample.csv · 0 trials done")
    assert job.wait(timeout=300)["status"] == "succeeded"


def test_the_slot_of_a_one_trial_sweep_says_trial(sample_data, tmp_path):
    from pipeline.jobs import TRAINING_INFO_FILE

    registry, held = Registry(tmp_path), []

    def report(event):  # what another training would be told while this one runs
        if event["event"] == "preparing":
            info = (registry.work_dir / TRAINING_INFO_FILE).read_text(encoding="utf-8")
            held.append(json.loads(info)["description"])

    summary = run_sweep(sample_data, plan_of(1, epochs=1), registry, report)
    assert held == [f"{summary['sweep']}: 1 fasttext trial on sample.csv"]


def test_the_sweep_mode_refuses_a_bad_range_before_starting(app_models):
    at = open_sweep_mode({})
    at.multiselect(key="sweep_fasttext_search").set_value(["dropout"])
    at.number_input(key="sweep_fasttext_dropout_low").set_value(0.6)
    at.number_input(key="sweep_fasttext_dropout_high").set_value(0.2)
    before = get_runner().current
    at = at.button(key="FormSubmitter:sweep_form-Start sweep").click().run()
    assert not at.exception
    assert "low 0.6 is above high 0.2" in at.error[0].value.replace("\\", "")
    assert get_runner().current is before  # no sweep was started
