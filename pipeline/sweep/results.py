"""A sweep's results: its small local record, and the trials table rebuilt from the registry.

Every completed trial is an ordinary version whose metadata carries the tags
{"sweep": id, "trial": n}, so the table can always be rebuilt from the registry. Pruned,
failed and cancelled trials saved nothing; they live only in the record, one JSON file per
sweep beside the registry's locks (`registry.work_dir/.sweeps/`), written atomically after
each trial.
"""

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.registry import Registry

RECORDS_FOLDER = ".sweeps"  # a leading dot: never taken for a version
COMPLETE = "complete"
PRUNED = "pruned"
FAILED = "failed"
CANCELLED = "cancelled"
SCORE_COLUMNS = ["validation score", "val accuracy", "val macro-F1", "test accuracy",
                 "test macro-F1"]  # fmt: skip


def new_sweep_id() -> str:
    """A sortable, unique sweep id, e.g. "sweep-20261201-151200-ab12"."""
    return datetime.now(UTC).strftime("sweep-%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def validation_score(validation_metrics: dict) -> float:
    """The score a sweep maximises: the mean of validation accuracy and macro-F1, the rule
    the default recipe was chosen by (bench/compare_models.py)."""
    return (validation_metrics["accuracy"] + validation_metrics["macro_f1"]) / 2


def record_path(registry: Registry, sweep_id: str) -> Path:
    """Where a sweep's record lives on this machine."""
    return registry.work_dir / RECORDS_FOLDER / f"{sweep_id}.json"


def write_record(registry: Registry, record: dict) -> None:
    """Save a sweep's record atomically (a reader never sees half a file)."""
    path = record_path(registry, record["sweep"])
    with registry.writing("save the sweep's record"):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}-{secrets.token_hex(4)}")
        temp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(temp, path)


def read_record(registry: Registry, sweep_id: str) -> dict | None:
    """A sweep's record, or None when this machine has none (or it is unreadable)."""
    try:
        return json.loads(record_path(registry, sweep_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class SweepRecord:
    """A running sweep's record, saved as each trial starts and ends.

    Args:
        registry: where the sweep saves its trials.
        settings: the sweep's id (`sweep`) and plan (SweepPlan.describe).
    """

    def __init__(self, registry: Registry, settings: dict):
        self.registry = registry
        self.record = {
            **settings,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "finished": None,
            "stopped": None,
            "current": None,
            "trials": [],
        }
        self.save()

    def start_trial(self, number: int, values: dict) -> None:
        """Note the trial now training, and its values."""
        self.record["current"] = {"number": number, "params": values}
        self.save()

    def end_trial(self, number: int, state: str, values: dict, **figures) -> None:
        """Add an ended trial: its state (COMPLETE, PRUNED...), values and figures."""
        self.record["current"] = None
        self.record["trials"].append({"number": number, "state": state, "params": values,
                                      **figures})  # fmt: skip
        self.save()

    def finish(self, stopped: str) -> None:
        """Note the end and why: "trials done", "time budget", "cancelled" or "failed"."""
        self.record.update(
            finished=datetime.now(UTC).isoformat(timespec="seconds"), stopped=stopped
        )
        self.save()

    def save(self) -> None:
        write_record(self.registry, self.record)


class WorkerRecord(SweepRecord):
    """A shared study's worker keeps its trials in memory only: the study is the record (each
    trial's user attrs), and several workers may share one machine's registry folder."""

    def save(self) -> None:
        pass


def trial_versions(registry: Registry, sweep_id: str | None = None) -> list[dict]:
    """The metadata of every version saved by a sweep (by any sweep if `sweep_id` is None)."""
    rows = []
    for row in registry.list():
        sweep = (row.get("tags") or {}).get("sweep")
        if sweep and sweep_id in (None, sweep):
            rows.append(row)
    return rows


def list_sweeps(registry: Registry) -> list[str]:
    """The ids of every sweep known here (from the registry's tags and the local records),
    newest first."""
    ids = {row["tags"]["sweep"] for row in trial_versions(registry)}
    folder = registry.work_dir / RECORDS_FOLDER
    if folder.is_dir():
        ids |= {path.stem for path in folder.glob("sweep-*.json")}
    return sorted(ids, reverse=True)


def version_row(metadata: dict) -> dict:
    """A completed trial's row of the results table, from its version's metadata."""
    validation, test = metadata["validation_metrics"], metadata["metrics"]
    return {
        "trial": metadata["tags"]["trial"],
        "state": COMPLETE,
        "validation score": validation_score(validation),
        "val accuracy": validation["accuracy"],
        "val macro-F1": validation["macro_f1"],
        "test accuracy": test["accuracy"],
        "test macro-F1": test["macro_f1"],
        "params": metadata["params"],
        "epochs run": metadata.get("epochs_run"),
        "seconds": metadata.get("train_seconds"),
        "version": metadata["version"],
    }


def searched_names(record: dict | None, rows: list[dict]) -> list[str]:
    """The searched parameters: the record's space, else those that differ between trials."""
    if record is not None:
        return list(record["space"])
    names = {name for row in rows for name in row["params"]}
    return sorted(n for n in names if len({repr(row["params"].get(n)) for row in rows}) > 1)


def sweep_table(registry: Registry, sweep_id: str) -> pd.DataFrame:
    """Every trial of a sweep, best validation score first (trials without one last).

    Completed trials come from the registry (a deleted version drops out); pruned, failed
    and cancelled ones from this machine's record, when there is one.

    Args:
        registry: where the sweep saved its trials.
        sweep_id: the sweep.

    Returns:
        One row per trial: trial, state, the scores (SCORE_COLUMNS), each searched
        parameter, epochs run, seconds (training only), version and note.
    """
    record = read_record(registry, sweep_id)
    rows = [version_row(meta) for meta in trial_versions(registry, sweep_id)]
    saved = {row["trial"] for row in rows}
    for trial in (record or {}).get("trials", []):
        if trial["state"] != COMPLETE and trial["number"] not in saved:
            rows.append(
                {
                    "trial": trial["number"],
                    "state": trial["state"],
                    "val accuracy": trial.get("val_accuracy"),
                    "params": trial["params"],
                    "epochs run": trial.get("epochs"),
                    "seconds": trial.get("seconds"),
                    "note": trial.get("note", ""),
                }
            )
    return trials_frame(rows, searched_names(record, rows))


def trials_frame(rows: list[dict], names: list[str], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Trial rows as the results table, best validation score first.

    Args:
        rows: one dict per trial, its values under "params".
        names: the searched parameters, each a column.
        extra: more columns, after "version" (e.g. a shared study's "worker").

    Returns:
        The table (see sweep_table).
    """
    table = pd.DataFrame(
        [
            {
                **{k: v for k, v in row.items() if k != "params"},
                **{n: row["params"].get(n) for n in names},
            }
            for row in rows
        ],  # fmt: skip
        columns=[
            "trial",
            "state",
            *SCORE_COLUMNS,
            *names,
            "epochs run",
            "seconds",
            "version",
            *extra,
            "note",
        ],  # fmt: skip
    )
    table["note"] = table["note"].fillna("")
    return table.sort_values(
        ["validation score", "trial"], ascending=[False, True], na_position="last"
    ).reset_index(drop=True)


def best_trial(table: pd.DataFrame) -> dict | None:
    """The completed trial with the best validation score, or None when none completed."""
    complete = table[table["state"] == COMPLETE]
    return None if complete.empty else complete.iloc[0].to_dict()


def score_on_test(row: dict | pd.Series) -> float:
    """A trial's score on the test part, by the validation score's rule: the mean of its
    test accuracy and macro-F1."""
    return (row["test accuracy"] + row["test macro-F1"]) / 2


def best_against_defaults(table: pd.DataFrame) -> dict | None:
    """The best trial on validation, beside trial 0 (the defaults) and the best on test.

    Args:
        table: sweep_table's result (best validation score first).

    Returns:
        None when no trial completed; else {"best": the best trial on validation,
        "defaults": trial 0 or None (it did not complete, or its version was deleted),
        "best_on_test": the trial with the best test score (the best itself on a tie)}, each
        a row of the table as a dict.
    """
    complete = table[table["state"] == COMPLETE]
    if complete.empty:
        return None
    defaults = complete[complete["trial"] == 0]
    scores = complete.apply(score_on_test, axis=1)
    return {
        "best": complete.iloc[0].to_dict(),
        "defaults": None if defaults.empty else defaults.iloc[0].to_dict(),
        "best_on_test": complete.loc[scores.idxmax()].to_dict(),  # the first of equals
    }


def describe_best(table: pd.DataFrame) -> list[str]:
    """Sentences on the best trial: its scores, trial 0's beside them, and whether the best on
    validation is also the best on test.

    Args:
        table: sweep_table's result.

    Returns:
        Up to three sentences; none when no trial completed.
    """
    found = best_against_defaults(table)
    if found is None:
        return []
    best, defaults, on_test = found["best"], found["defaults"], found["best_on_test"]
    lines = [f"Best: trial {best['trial']}, version {best['version']}, {_scores(best)}."]
    if defaults is None:
        lines.append("Trial 0 (the defaults) has no scores: it did not complete, or its "
                     "version was deleted.")  # fmt: skip
    elif defaults["trial"] == best["trial"]:
        lines.append("Trial 0 is the defaults: no searched values beat them on validation.")
    else:
        lines.append(f"Trial 0, the defaults: {_scores(defaults)}.")
    if on_test["trial"] != best["trial"]:
        which = f"trial {on_test['trial']}" + (" (the defaults)" if on_test["trial"] == 0 else "")
        lines.append(
            f"The best on validation is not the best on test: {which} scores higher there "
            f"(test accuracy {on_test['test accuracy']:.3f}, macro-F1 "
            f"{on_test['test macro-F1']:.3f}). The sweep chooses on validation only, which "
            "keeps the test figures an honest estimate."
        )
    return lines


def _scores(row: dict) -> str:
    return (f"validation score {row['validation score']:.3f} (test accuracy "
            f"{row['test accuracy']:.3f}, macro-F1 {row['test macro-F1']:.3f})")  # fmt: skip


def format_table(table: pd.DataFrame) -> str:
    """The table as aligned text for a terminal."""
    return table.drop(columns=["note"]).to_string(index=False, na_rep="", float_format=_figure)


def _figure(value: float) -> str:
    return f"{value:.3f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2e}"
