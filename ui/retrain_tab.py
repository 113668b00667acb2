"""Retrain tab: pick hyperparameters and data, watch training live, compare and promote."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.errors import SentimentError
from pipeline.estimate import describe_duration, expected_training_seconds
from pipeline.feedback import read_feedback
from pipeline.jobs import JobRunner
from pipeline.params import (
    ARCHITECTURE_HELP,
    ARCHITECTURES,
    PARAM_SPECS,
    SPECS_BY_NAME,
    ParamSpec,
    check_caps,
    default_params,
    resolve_params,
)
from pipeline.registry import Registry
from ui.common import escape_markdown, show_error
from ui.data_tab import choose_data_ui, load_data
from ui.guard import is_admin, may_train
from ui.models_tab import details_ui

CAPS = {"epochs": config.MAX_RETRAIN_EPOCHS, "vocab_size": config.MAX_RETRAIN_VOCAB}
POLL_SECONDS = 1.0
MODES = ("Train one version", "Sweep hyperparameters")


@st.cache_resource
def get_runner() -> JobRunner:
    """One job runner per server process, shared by every session."""
    return JobRunner()


def _label(spec: ParamSpec) -> str:
    return spec.name.replace("_", " ").capitalize()


def param_widget(container, spec: ParamSpec, default, architecture: str):
    """One form widget for one hyperparameter, with its range enforced by the widget."""
    key = f"param_{architecture}_{spec.name}"
    if spec.choices:
        return container.selectbox(
            _label(spec), spec.choices, index=spec.choices.index(default), key=key, help=spec.help
        )
    high = min(spec.high, CAPS.get(spec.name, spec.high))
    if spec.kind is int:
        return container.number_input(
            _label(spec), int(spec.low), int(high), int(default), step=1, key=key, help=spec.help
        )
    return container.number_input(
        _label(spec), float(spec.low), float(high), float(default), key=key, help=spec.help,
        step=float(max(spec.low, 0.0001)), format="%g",
    )  # fmt: skip


def form_ui(architecture: str) -> tuple[dict, bool] | None:
    """The hyperparameter form. Returns (values, include feedback) when submitted."""
    defaults = default_params(architecture)
    with st.form("retrain_form"):
        columns = st.columns(3)
        specs = [s for s in PARAM_SPECS if s.name != "architecture" and s.applies_to(architecture)]
        values = {"architecture": architecture}
        for i, spec in enumerate(specs):
            values[spec.name] = param_widget(
                columns[i % 3], spec, defaults[spec.name], architecture
            )
        include_feedback = st.checkbox("Include feedback rows in training", key="retrain_feedback")
        submitted = st.form_submit_button("Start training", type="primary")
    return (values, include_feedback) if submitted else None


def feedback_rows() -> pd.DataFrame:
    """Feedback as training rows: the text and the label the user gave."""
    feedback = read_feedback()
    return pd.DataFrame({"text": feedback["text"], "label": feedback["correct_label"]})


def start_job(registry: Registry, chosen: tuple, values: dict, include_feedback: bool) -> None:
    """Validate everything, then start the job; raises SentimentError with what to fix."""
    params = resolve_params(values)
    check_caps(params, config.MAX_RETRAIN_EPOCHS, config.MAX_RETRAIN_VOCAB)
    data = load_data(*chosen)
    # Imported only now: a bad upload is answered without first loading TensorFlow (seconds).
    from pipeline.recipes import check_model_size
    from pipeline.train import train_and_save

    check_model_size(params, len(data.labels), config.MAX_RETRAIN_PARAMETERS)
    extra = feedback_rows() if include_feedback else None
    command = f"dashboard retrain on {data.source}: {params}"

    def target(report, stop_event):
        return train_and_save(
            data, params, registry, report, stop_event, command=command, extra_training_rows=extra
        )

    get_runner().start(target, f"{params['architecture']} on {data.source}")


REFIT_PARTS = {"train": "refit: train + validation", "validation": "refit: validation (seen)"}


def curves_chart(history: list[dict]) -> alt.Chart:
    """Per-epoch loss and accuracy, train and validation, and a final refit's own lines."""
    rows = [
        {
            "epoch": h["epoch"],
            "metric": metric,
            "part": REFIT_PARTS[part] if h.get("refit") else part,
            "value": h[key],
        }
        for h in history
        for metric in ("loss", "accuracy")
        for part, key in (("train", metric), ("validation", f"val_{metric}"))
        if key in h
    ]
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", scale=alt.Scale(zero=False), title=None),
        color=alt.Color("part:N", title=None),
    )
    lines = base.mark_line(point=True).properties(width=300, height=200)
    return lines.facet(column=alt.Column("metric:N", title=None)).resolve_scale(y="independent")


def progress_ui(state: dict) -> None:
    """Progress bar, elapsed time, ETA and the curves so far."""
    if state["epochs"]:
        text = f"Epoch {state['epoch']}/{state['epochs']} · batch {state['batch']}/{state['steps']}"
    else:
        text = f"{state['phase'].capitalize()}…"
    st.progress(state["progress"], text=text)
    eta = f" · about {state['eta']:.0f} s left (less if it stops early)" if state["eta"] else ""
    description = escape_markdown(state["description"])  # it names the user's data file
    st.caption(f"{description} · {state['elapsed']:.0f} s elapsed{eta}")
    if state["history"]:
        st.altair_chart(curves_chart(state["history"]))


def live_job_ui() -> None:
    """Redrawn every second while a job runs; a full rerun when it ends."""
    job = get_runner().current
    if job is None:
        return
    state = job.snapshot()
    if state["status"] != "running":
        st.rerun()  # the whole page, so the results replace the live view
    progress_ui(state)
    if st.button("Cancel", key="retrain_cancel", disabled=state["cancel_requested"]):
        job.cancel()
        st.toast("Cancelling after the current batch…")


def comparison_table(result: dict, registry: Registry) -> pd.DataFrame:
    """The new version beside the active one and the TF-IDF baseline."""
    rows = [{"model": f"new: {result['version']}", **result["metrics"]}]
    active = registry.active_version()
    if active and active != result["version"]:
        rows.append({"model": f"active: {active}", **registry.metadata(active)["metrics"]})
    rows.append(
        {"model": "baseline: tf-idf + logistic regression", **result["baseline"]["metrics"]}
    )
    table = pd.DataFrame(rows)[["model", "accuracy", "macro_f1"]].round(3)
    return table.rename(columns={"macro_f1": "macro-F1"})


def _try_version(version: str) -> None:
    st.session_state["version"] = version


def finished_ui(state: dict, registry: Registry) -> None:
    """The outcome of the last job: an error, or the results with promote and try."""
    if state["status"] == "cancelled":
        st.info("Training was cancelled; nothing was saved.")
        return
    if state["status"] == "failed":
        show_error(state["error"])
        return
    result = state["result"]
    st.success(f"Saved version {result['version']} in {state['elapsed']:.0f} s.")
    if state["history"]:
        st.altair_chart(curves_chart(state["history"]))
    st.dataframe(comparison_table(result, registry), hide_index=True, width="stretch")
    st.caption(
        "The active model was evaluated on its own test part; it is comparable when it "
        "was trained on the same data with the same seed."
    )
    details_ui(result)
    if result["version"] not in registry.versions():
        return
    left, right = st.columns(2)
    left.button(
        "Try it in the Predict tab",
        key="retrain_try",
        on_click=_try_version,
        args=(result["version"],),
    )
    is_active = registry.active_version() == result["version"]
    if right.button(
        "Promote to active", key="retrain_promote", disabled=is_active or not is_admin()
    ):
        registry.promote(result["version"])
        st.toast(f"Version {result['version']} is now active.")
        st.rerun()


# Which recipe for how many rows: from the learning curves in the README ("Choosing the
# default"), measured on the GOP and Apple tweets.
ARCHITECTURE_GUIDE = "\n\n".join(f"**{name}**: {text}" for name, text in ARCHITECTURE_HELP.items())


def expected_time_ui(registry: Registry, architecture: str, chosen: tuple) -> None:
    """The expected training time of the chosen recipe on the chosen data."""
    try:
        rows = len(load_data(*chosen).frame)
    except SentimentError:
        return  # the data's own problem is reported when training starts
    seconds, basis = expected_training_seconds(registry, architecture, rows)
    refit = (
        " A final refit about doubles it."
        if SPECS_BY_NAME["final_refit"].applies_to(architecture)
        else ""
    )
    st.caption(
        f"Expected training time for {rows:,} rows: {describe_duration(seconds)} ({basis}).{refit}"
    )


def retrain_ui(registry: Registry) -> None:
    """The whole Retrain tab."""
    from ui.sweep_view import is_sweep, sweep_ui  # here, as ui.sweep_view imports this module

    runner = get_runner()
    job = runner.current
    running = job is not None and job.running
    architecture = st.selectbox(
        "Architecture", ARCHITECTURES, key="retrain_architecture", help=ARCHITECTURE_GUIDE
    )
    st.caption(escape_markdown(ARCHITECTURE_HELP[architecture]))
    chosen = choose_data_ui("retrain")
    if chosen is not None:
        expected_time_ui(registry, architecture, chosen)
    if st.radio("Mode", MODES, key="retrain_mode", horizontal=True) == MODES[1]:
        sweep_ui(registry, architecture, chosen)
        return
    submitted = form_ui(architecture)
    if submitted is not None:
        if not may_train():
            st.warning("Training needs the admin password (sidebar).")
        elif chosen is None:
            st.error("Upload a labelled CSV first, or choose a bundled data set.")
        else:
            try:
                start_job(registry, chosen, *submitted)
                running = True
            except SentimentError as exc:
                show_error(exc)
    if running:
        st.fragment(live_job_ui, run_every=POLL_SECONDS)()
    elif job is not None and not is_sweep(job):
        finished_ui(job.snapshot(), registry)
