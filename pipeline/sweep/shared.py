"""Sweeps across machines: one Optuna study in shared storage that any number of workers join.

The storage is Optuna's own: a PostgreSQL database (`postgresql://user@host:port/db`, its
RDB storage) or a journal file on a disk every worker sees (`journal:PATH`, or a path ending
in `.log`). Each worker runs `python -m pipeline sweep ... --storage URL --study NAME`; the
study hands out the trials, so the workers need no other coordination. Every trial notes in
its user attrs the worker that ran it, how it ended and the version it saved, so any worker
or the dashboard can list every worker's trials from the study alone.

A storage URL may hold a password: it is shown only through `redact`.
"""

import os
import re
import socket
import time
import warnings
from pathlib import Path

import optuna
import pandas as pd

from pipeline.errors import ParameterError, StudyUnavailable
from pipeline.registry import Registry
from pipeline.sweep.results import COMPLETE, trial_versions, trials_frame, version_row

JOURNAL_PREFIX = "journal:"
JOURNAL_SUFFIX = ".log"
# Give up on an unreachable database after this long, rather than TCP's minutes.
CONNECT_TIMEOUT_SECONDS = 10
# A worker's trials beat every HEARTBEAT_SECONDS; one silent for twice that (a killed
# worker) is marked failed by the next worker that asks for a trial (PostgreSQL only).
HEARTBEAT_SECONDS = 60
TABLE_RACE_ATTEMPTS = 3
# What a study must agree on with a worker that joins it (the settings in its user attrs).
AGREED = ("architecture", "space", "fixed")
RUNNING = "running"
WAITING = "waiting"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^/]*@")  # up to the host's @ (a password may hold @)


def redact(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    return _PASSWORD.sub(r"\1***@", url)


def is_journal(url: str) -> bool:
    """Whether a storage URL names a journal file rather than a database."""
    return url.startswith(JOURNAL_PREFIX) or url.endswith(JOURNAL_SUFFIX)


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Optuna's storage for a URL: a journal file, or a database (PostgreSQL).

    Args:
        url: `postgresql://user[:password]@host:port/db`, `journal:PATH` or `PATH.log`.

    Returns:
        The storage, connected.

    Raises:
        StudyUnavailable: the URL is malformed, or the storage cannot be reached.
    """
    if is_journal(url):
        return _journal(url.removeprefix(JOURNAL_PREFIX))
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:  # not echoed: a malformed URL may hide a password
        scheme = url.split(":", 1)[0][:20]
        raise StudyUnavailable(
            f"The sweep storage (starting {scheme}:) is not a sweep storage URL: give "
            "postgresql://user@host:port/db or journal:PATH (a file every worker sees)."
        ) from None
    engine = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql":
        engine["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if parsed.drivername == "postgresql":  # SQLAlchemy 2.1 means psycopg 3 by it
            parsed = parsed.set(drivername=f"postgresql+{postgres_driver()}")
    try:
        return _rdb_storage(parsed.render_as_string(hide_password=False), engine)
    except ImportError as exc:
        raise StudyUnavailable(
            f"No database driver for {redact(url)} ({exc.name or exc}): "
            "pip install -r requirements-cluster.txt"
        ) from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
        raise StudyUnavailable(f"Cannot open the sweep storage {redact(url)}: "
                               f"{_first_line(exc, url)}") from None  # fmt: skip


def _rdb_storage(url: str, engine: dict) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage; it creates its tables in a new database. Two workers starting
    together on a new database both create them, and one loses the race (a duplicate
    table or type): it then finds them made, on a second try."""
    import sqlalchemy

    for attempt in range(TABLE_RACE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # the heartbeat is "experimental" to Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == TABLE_RACE_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def postgres_driver() -> str:
    """The PostgreSQL driver installed: psycopg2 (requirements-cluster.txt), else psycopg."""
    import importlib.util

    return "psycopg2" if importlib.util.find_spec("psycopg2") else "psycopg"


def _journal(path: str) -> optuna.storages.BaseStorage:
    if not path:
        raise StudyUnavailable("journal: needs a file path, e.g. journal:/shared/sweeps.log")
    folder = Path(path).parent
    if not folder.is_dir():
        raise StudyUnavailable(f"The journal file's folder {folder} does not exist.")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    try:
        return JournalStorage(JournalFileBackend(path))
    except OSError as exc:
        raise StudyUnavailable(f"Cannot open the journal file {path}: {exc.strerror}") from None


def _first_line(exc: Exception, url: str) -> str:
    """The reason for a failure in one line, without the URL's password."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
    password = re.search(r"://[^:/@]*:([^/]*)@", url)
    line = reason[0]
    return line.replace(password.group(1), "***") if password and password.group(1) else line


def worker_name() -> str:
    """This worker, as its trials name it: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def join_study(
    url: str,
    name: str,
    settings: dict,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """Create a shared study, or join it when another worker already has.

    Args:
        url: the storage (see open_storage).
        name: the study's name.
        settings: the sweep's plan (SweepPlan.describe); the first worker writes it into the
            study's user attrs, and a later one must agree on AGREED.
        sampler: this worker's sampler.
        pruner: this worker's pruner.

    Returns:
        The study.

    Raises:
        StudyUnavailable: the storage cannot be reached.
        ParameterError: the study searches something else than this worker was told to.
    """
    if not name or not name.strip():
        raise ParameterError("A shared sweep needs a study name (--study).")
    from sqlalchemy.exc import SQLAlchemyError

    storage = open_storage(url)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, direction="maximize", sampler=sampler,
            pruner=pruner, load_if_exists=True,
        )  # fmt: skip
    except (SQLAlchemyError, OSError) as exc:  # the database went away after connecting
        raise StudyUnavailable(f"Cannot open study {name} in {redact(url)}: "
                               f"{_first_line(exc, url)}") from None  # fmt: skip
    known = study.user_attrs
    for key in AGREED:
        if key in known and known[key] != _json_ready(settings[key]):
            raise ParameterError(
                f"Study {name} was started with {key} {known[key]}; this worker was given "
                f"{settings[key]}. Run every worker of a study with the same settings."
            )
    for key in (*AGREED, "trials_wanted", "data"):
        if key not in known:
            study.set_user_attr(key, settings[key])
    return study


def _json_ready(value):
    """A value as it reads back from a study's user attrs (tuples become lists)."""
    import json

    return json.loads(json.dumps(value))


def study_names(url: str) -> list[str]:
    """The studies in a storage, newest first."""
    storage = open_storage(url)
    return [summary.study_name for summary in reversed(optuna.get_all_study_summaries(storage))]


def load_shared_study(url: str, name: str) -> optuna.Study:
    """An existing study, to read.

    Raises:
        StudyUnavailable: the storage cannot be reached, or holds no study of that name.
    """
    storage = open_storage(url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise StudyUnavailable(f"No study named {name} in {redact(url)}.") from None


def study_progress(study: optuna.Study) -> dict:
    """How far a study is: trials wanted, ended, running, and the workers seen.

    Returns:
        {"wanted": the first worker's --trials (or None), "ended", "running", "workers"}.
    """
    trials = study.get_trials(deepcopy=False)
    states = optuna.trial.TrialState
    return {
        "wanted": study.user_attrs.get("trials_wanted"),
        "ended": sum(t.state.is_finished() for t in trials),
        "running": sum(t.state == states.RUNNING for t in trials),
        "workers": sorted({t.user_attrs["worker"] for t in trials if "worker" in t.user_attrs}),
    }


def study_table(study: optuna.Study, registry: Registry) -> pd.DataFrame:
    """Every trial of a shared study, from every worker, best validation score first.

    A completed trial whose version is in `registry` reads its scores from the version (as
    sweep_table does); the others read what the study holds: the state, the validation
    score or the best validation accuracy before pruning, the worker and the note.

    Args:
        study: the shared study (join_study or load_shared_study).
        registry: the shared registry the workers save into.

    Returns:
        sweep_table's columns, with "worker" after "version".
    """
    saved = {row["tags"]["trial"]: row for row in trial_versions(registry, study.study_name)}
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        version = attrs.get("version")
        if version is not None and trial.number in saved:
            row = version_row(saved[trial.number])
        else:
            row = {
                "trial": trial.number,
                "state": _state(trial),
                "validation score": trial.value,
                "val accuracy": attrs.get("val_accuracy"),
                "params": trial.params,
                "epochs run": attrs.get("epochs"),
                "seconds": attrs.get("seconds"),
                "version": version,
                "note": attrs.get("note", ""),
            }
        rows.append({**row, "worker": attrs.get("worker")})
    names = list(study.user_attrs.get("space") or {})
    return trials_frame(rows, names, extra=("worker",))


def _state(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's state in the sweep's words (a cancelled trial is FAIL to Optuna)."""
    states = optuna.trial.TrialState
    if trial.state == states.RUNNING:
        return RUNNING
    if trial.state == states.WAITING:
        return WAITING
    if "state" in trial.user_attrs:
        return trial.user_attrs["state"]
    return COMPLETE if trial.state == states.COMPLETE else trial.state.name.lower()
