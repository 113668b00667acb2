"""The Retrain tab's Sweep mode: search hyperparameters with Optuna as a background job.

The sweep runs on the Retrain tab's job runner, like a training; its progress comes from
the job (the current trial's epochs) and from the sweep's record (the trials done). The
results table is rebuilt from the registry, so it survives a restart.
"""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.errors import SentimentError
from pipeline.jobs import WorkerCall
from pipeline.params import check_caps, param_specs, spec
from pipeline.registry import Registry
from pipeline.sweep.results import (
    COMPLETE,
    SCORE_COLUMNS,
    best_trial,
    describe_best,
    list_sweeps,
    new_sweep_id,
    read_record,
    sweep_table,
)
from pipeline.sweep.space import (
    DEFAULT_TRIALS,
    MAX_TRIALS,
    SweepPlan,
    build_space,
    default_searched,
    full_range,
    searchable,
)
from pipeline.wording import plural
from ui.common import escape_markdown, show_error
from ui.data_tab import load_data
from ui.guard import is_admin, may_train
from ui.job_view import CAPS, POLL_SECONDS, curves_chart, get_runner, live_job_ui
from ui.models_tab import registry_action

DEFAULT_BUDGET_MINUTES = 10
# An attached shared study is read again this often (a query, and the registry's listing).
STUDY_POLL_SECONDS = 2.0
# The results table's columns. A table first drawn while the sweep has no trial yet sizes its
# columns to the headers alone, so the state and version columns get their room here.
TABLE_COLUMNS = {
    **{column: st.column_config.NumberColumn(format="%.3f") for column in SCORE_COLUMNS},
    "state": st.column_config.TextColumn(width=90),
    "version": st.column_config.TextColumn(width=170),
}
MAX_BUDGET_MINUTES = 600


@st.cache_resource
def sweep_jobs() -> dict[str, str]:
    """Job id -> sweep id, for the jobs of this server process that are sweeps."""
    return {}


def is_sweep(job) -> bool:
    """Whether a job of the runner is a sweep (its result is not one version)."""
    return job is not None and job.id in sweep_jobs()


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def range_widgets(architecture: str, name: str):
    """The range of one parameter: low and high inputs, or the choices to try."""
    declared, widest = spec(name), full_range(name, CAPS)
    key = f"sweep_{architecture}_{name}"
    if widest.choices is not None:
        return st.multiselect(_label(name), widest.choices, widest.choices, key=f"{key}_choices")
    left, right = st.columns(2)
    if declared.kind is int:
        bounds = dict(min_value=int(widest.low), max_value=int(widest.high), step=1)
        low, high = int(widest.low), int(widest.high)
    else:
        step = float(max(widest.low, 0.0001))
        bounds = dict(min_value=widest.low, max_value=widest.high, step=step, format="%g")
        low, high = widest.low, widest.high
    scale = " (log scale)" if widest.log else ""
    return [
        left.number_input(f"{_label(name)}: low{scale}", value=low, key=f"{key}_low", **bounds),
        right.number_input(f"{_label(name)}: high", value=high, key=f"{key}_high", **bounds),
    ]


def sweep_form_ui(architecture: str) -> dict | None:
    """The sweep's settings form. Returns the choices when submitted."""
    names = searchable(architecture)
    with st.form("sweep_form"):
        left, right = st.columns(2)
        trials = left.number_input("Trials", 1, MAX_TRIALS, DEFAULT_TRIALS, key="sweep_trials")
        minutes = right.number_input(
            "Time budget (minutes, 0 for none)", 0, MAX_BUDGET_MINUTES, DEFAULT_BUDGET_MINUTES,
            key="sweep_minutes", help="No new trial starts after it; the running one finishes.",
        )  # fmt: skip
        searched = st.multiselect(
            "Hyperparameters to search", names, default_searched(architecture),
            format_func=_label, key=f"sweep_{architecture}_search",
            help="The others keep the architecture's defaults; the split seed stays fixed.",
        )  # fmt: skip
        with st.expander("Ranges (the whole range of each parameter unless narrowed)"):
            ranges = {name: range_widgets(architecture, name) for name in names}
        submitted = st.form_submit_button("Start sweep", type="primary")
    if not submitted:
        return None
    return {"trials": int(trials), "minutes": minutes, "searched": searched,
            "ranges": {name: ranges[name] for name in searched}}  # fmt: skip


def start_sweep(registry: Registry, architecture: str, chosen: tuple, choices: dict) -> None:
    """Validate everything, then start the sweep job; raises SentimentError with what to fix."""
    space = build_space(architecture, choices["searched"], choices["ranges"], CAPS)
    timeout = choices["minutes"] * 60 or None
    plan = SweepPlan(architecture, choices["trials"], space, timeout,
                     max_parameters=config.MAX_RETRAIN_PARAMETERS)  # fmt: skip
    check_caps(plan.base_params(), config.MAX_RETRAIN_EPOCHS, config.MAX_RETRAIN_VOCAB)
    data = load_data(*chosen)
    sweep_id = new_sweep_id()

    call = WorkerCall(
        "pipeline.sweep.run:run_sweep",
        {"data": data, "plan": plan, "registry": registry, "sweep_id": sweep_id},
    )
    description = f"a sweep of {plural(plan.trials, f'{architecture} trial')} on {data.source}"
    job = get_runner().start(call, description)
    sweep_jobs()[job.id] = sweep_id
    st.session_state["sweep_pick"] = sweep_id  # show the new sweep's results below


def current_trial_history(history: list[dict]) -> list[dict]:
    """The epochs of the trial now training (the job's history holds every trial's)."""
    starts = [i for i, epoch in enumerate(history) if epoch["epoch"] == 1]
    return history[starts[-1] :] if starts else history


def sweep_progress(state: dict, record: dict) -> tuple[float, str]:
    """The progress bar's share and text: trials done of those wanted, or of the budget."""
    done, wanted = len(record.get("trials", [])), record.get("trials_wanted") or 1
    share = done / wanted
    if record.get("timeout"):
        share = max(share, state["elapsed"] / record["timeout"])
    current = record.get("current")
    if current is None:
        return min(share, 1.0), f"{state['phase'].capitalize()}…"
    text = f"Trial {current['number'] + 1} of {wanted}"
    if state["phase"] == "training" and state["epochs"]:
        text += f" · epoch {state['epoch']}/{state['epochs']}"
    return min(share, 1.0), text


def live_sweep_ui(registry: Registry) -> None:
    """Redrawn every second while the sweep runs; a full rerun when it ends."""
    job = get_runner().current
    state = job.snapshot()
    if state["status"] != "running":
        st.rerun()
    record = read_record(registry, sweep_jobs()[job.id]) or {}
    share, text = sweep_progress(state, record)
    st.progress(share, text=text)
    budget = f" of a {record['timeout'] / 60:.0f} min budget" if record.get("timeout") else ""
    done = len(record.get("trials", []))
    st.caption(f"{escape_markdown(state['description'])} · {plural(done, 'trial')} done · "
               f"{state['elapsed']:.0f} s elapsed{budget}")  # fmt: skip
    if record.get("current"):
        values = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                           for k, v in record["current"]["params"].items())  # fmt: skip
        st.caption(f"Trying {escape_markdown(values)}")
    if state["history"]:
        st.altair_chart(curves_chart(current_trial_history(state["history"])))
    if st.button("Cancel", key="sweep_cancel", disabled=state["cancel_requested"]):
        job.cancel()
        st.toast("Cancelling the sweep after the current batch; saved trials stay…")


def sweep_chart(table: pd.DataFrame, names: list[str]) -> alt.ConcatChart:
    """One scatter per searched hyperparameter: its value against the validation score of
    each completed trial, the best in red."""
    complete = table[table["state"] == COMPLETE].copy()
    complete["best"] = complete.index == complete["validation score"].idxmax()
    colors = alt.Scale(domain=[False, True], range=["#8d99ae", "#d1495b"])
    charts = []
    for name in names:
        widest = full_range(name)
        if widest.choices is not None:
            x = alt.X(f"{name}:N", title=name, axis=alt.Axis(labelAngle=0))
        else:
            scale = alt.Scale(type="log" if widest.log else "linear", zero=False)
            x = alt.X(f"{name}:Q", title=name, scale=scale)
        chart = (
            alt.Chart(complete)
            .mark_circle(size=70)
            .encode(
                x=x,
                y=alt.Y("validation score:Q", scale=alt.Scale(zero=False)),
                color=alt.Color("best:N", scale=colors, legend=None),
                tooltip=["trial", "version", name, alt.Tooltip("validation score:Q", format=".3f")],
            )
        )
        charts.append(chart.properties(width=180, height=150))
    return alt.concat(*charts, columns=3)


def promote_best_ui(registry: Registry, table: pd.DataFrame) -> None:
    """The best trial, and "Promote the best" (behind the admin password)."""
    best = best_trial(table)
    if best is None:
        st.info("No trial has completed yet, so there is nothing to promote.")
        return
    version = best["version"]
    is_active = registry.active_version() == version
    best_line, defaults_line, *on_test = describe_best(table)
    st.caption(f"{best_line}{' Active.' if is_active else ''} {defaults_line}")
    for line in on_test:
        st.warning(line)
    if st.button("Promote the best", key="sweep_promote", disabled=is_active or not is_admin()):
        registry_action(registry.promote, version, f"Version {version} is now active.")


def results_ui(registry: Registry) -> None:
    """A sweep's trials, best validation score first, its chart and the promote button."""
    st.subheader("Sweep results")
    job = get_runner().current
    running = [sweep_jobs()[job.id]] if is_sweep(job) and job.running else []
    sweeps = list(dict.fromkeys(running + list_sweeps(registry)))  # before its record exists
    if not sweeps:
        st.caption("No sweep yet. Every completed trial is saved as a version tagged with it.")
        return
    sweep_id = st.selectbox("Sweep", sweeps, key="sweep_pick")
    record = read_record(registry, sweep_id)
    if record is not None:
        ended = f", {record['stopped']}" if record.get("stopped") else ""
        st.caption(escape_markdown(f"{record['architecture']} on {record['data']}, started "
                                   f"{record['started']}{ended}."))  # fmt: skip
    table = sweep_table(registry, sweep_id)
    st.dataframe(table, hide_index=True, width="stretch", column_config=TABLE_COLUMNS)
    st.caption(
        "Validation score: the mean of validation accuracy and macro-F1. A pruned trial shows "
        "the best validation accuracy it reached before the pruner stopped it; it saved no "
        "version."
    )
    names = [n for n in (record or {}).get("space", {}) if n in table.columns] or [
        n for n in table.columns if n in {found.name for found in param_specs()}
    ]
    if (table["state"] == COMPLETE).any() and names:
        st.altair_chart(sweep_chart(table, names))
    promote_best_ui(registry, table)


def shared_study_ui(registry: Registry) -> None:
    """Attach to a shared study (`python -m pipeline sweep --storage URL --study NAME` on any
    machines): every worker's trials, read again every few seconds."""
    st.subheader("Shared study")
    url = config.sweep_storage()
    if not url:
        st.caption(
            "Workers on several machines can run one sweep together (`python -m pipeline "
            "sweep --storage URL --study NAME`). To watch it here, set "
            f"`{config.SWEEP_STORAGE_ENV}` to the study's storage URL in the app's secrets or "
            "environment."
        )
        return
    from pipeline.sweep.shared import redact, study_names  # Optuna loads only now

    try:
        names = study_names(url)
    except SentimentError as exc:
        show_error(exc)
        return
    if not names:
        st.caption(escape_markdown(f"No study yet in {redact(url)}."))
        return
    name = st.selectbox("Attach to a study", names, index=None, key="sweep_study",
                        placeholder="Choose a study")  # fmt: skip
    if name is not None:
        st.fragment(live_study_ui, run_every=STUDY_POLL_SECONDS)(registry, url, name)


def live_study_ui(registry: Registry, url: str, name: str) -> None:
    """A shared study's progress, workers and trials (each completed one with its version)."""
    from pipeline.sweep.shared import load_shared_study, redact, study_progress, study_table

    try:
        study = load_shared_study(url, name)
        progress, table = study_progress(study), study_table(study, registry)
    except SentimentError as exc:
        show_error(exc)
        return
    wanted = progress["wanted"] or max(progress["ended"], 1)
    st.progress(min(progress["ended"] / wanted, 1.0),
                text=f"{progress['ended']} of {plural(wanted, 'trial')} ended · "
                f"{progress['running']} running")  # fmt: skip
    workers = progress["workers"]
    st.caption(escape_markdown(f"{plural(len(workers), 'worker')}: {', '.join(workers) or 'none'}"
                               f" · {redact(url)}"))  # fmt: skip
    st.dataframe(table, hide_index=True, width="stretch", column_config=TABLE_COLUMNS)
    names = [n for n in study.user_attrs.get("space", {}) if n in table.columns]
    if (table["state"] == COMPLETE).any() and names:
        st.altair_chart(sweep_chart(table, names))
    for line in describe_best(table):
        st.caption(escape_markdown(line))


def sweep_ui(registry: Registry, architecture: str, chosen: tuple | None) -> None:
    """The whole Sweep mode."""
    job = get_runner().current
    running = job is not None and job.running
    choices = sweep_form_ui(architecture)
    if choices is not None:
        if not may_train():
            st.warning("A sweep needs the admin password (sidebar).")
        elif chosen is None:
            st.error("Upload a labelled CSV first, or choose a bundled data set.")
        else:
            try:
                start_sweep(registry, architecture, chosen, choices)
                job, running = get_runner().current, True
            except SentimentError as exc:
                show_error(exc)
    if running and is_sweep(job):
        st.fragment(live_sweep_ui, run_every=POLL_SECONDS)(registry)
    elif running:
        st.info("A training job is running; a sweep can start when it ends.")
        st.fragment(live_job_ui, run_every=POLL_SECONDS)()
    elif is_sweep(job) and job.snapshot()["status"] == "failed":
        show_error(job.snapshot()["error"])
    results_ui(registry)
    shared_study_ui(registry)
