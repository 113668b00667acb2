"""Retrain tab: pick hyperparameters and data, watch training live, compare and promote."""

import time

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.analysis.held_out import HeldOut, held_out_from
from pipeline.analysis.predictions import load_predictions
from pipeline.cluster import check_can_train
from pipeline.errors import RegistryError, SentimentError
from pipeline.estimate import describe_duration, expected_training_seconds, format_duration
from pipeline.evaluate import evaluate_predictor
from pipeline.feedback import read_feedback
from pipeline.jobs import WorkerCall
from pipeline.labelled import read_labelled_set, rows_for_training
from pipeline.params import (
    ParamSpec,
    architecture_help,
    architectures,
    check_caps,
    resolve_params,
    specs_for,
)
from pipeline.recipes import check_model_size
from pipeline.registry import Registry
from pipeline.wording import plural
from ui.common import escape_markdown, get_predictor, show_error
from ui.data_tab import choose_data_ui, load_data
from ui.guard import is_admin, may_train
from ui.job_view import CAPS, POLL_SECONDS, curves_chart, get_runner, live_job_ui
from ui.models_tab import details_ui
from ui.sweep_view import is_sweep, sweep_ui

MODES = ("Train one version", "Sweep hyperparameters")
CLICKED_KEY = "retrain_clicked_at"


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


def form_ui(architecture: str) -> tuple[dict, bool, bool] | None:
    """The hyperparameter form. Returns (values, include feedback, include the labelled
    set) when submitted."""
    with st.form("retrain_form"):
        columns = st.columns(3)
        values = {"architecture": architecture}
        for i, spec in enumerate(specs_for(architecture)):
            values[spec.name] = param_widget(columns[i % 3], spec, spec.default, architecture)
        include_feedback = st.checkbox("Include feedback rows in training", key="retrain_feedback")
        include_labels = st.checkbox(
            "Include the labelled set (the Label tab's labels) in training",
            key="retrain_labels",
        )
        submitted = st.form_submit_button("Start training", type="primary", on_click=note_click)
    return (values, include_feedback, include_labels) if submitted else None


def note_click() -> None:
    # Callbacks run before the script, so this is the click, not the end of the page's
    # other tabs or of loading TensorFlow: the job's clock starts here.
    st.session_state[CLICKED_KEY] = time.time()


def feedback_rows() -> pd.DataFrame:
    """Feedback as training rows: the text and the label the user gave."""
    feedback = read_feedback()
    return pd.DataFrame({"text": feedback["text"], "label": feedback["correct_label"]})


def start_job(
    registry: Registry,
    chosen: tuple,
    values: dict,
    include_feedback: bool,
    clicked: float | None = None,
    include_labels: bool = False,
) -> str:
    """Validate everything, then start the job; raises SentimentError with what to fix.

    `clicked` (time.time() of the click on Start training) starts the job's clock, so the
    duration shown at the end is the whole wait, validation and imports included.
    With `include_labels`, the labelled set's texts (pipeline.labelled) join the training
    part, as feedback rows do. When a Ray cluster is set (config.ray_address), the job trains
    there and saves into the registry on object storage (pipeline.cluster).

    Returns:
        The job's description, with what it adds to the data.
    """
    params = resolve_params(values)
    check_caps(params, config.MAX_RETRAIN_EPOCHS, config.MAX_RETRAIN_VOCAB)
    data = load_data(*chosen)
    check_model_size(params, len(data.labels), config.MAX_RETRAIN_PARAMETERS)
    extra, added = [], ""
    if include_feedback:
        extra.append(feedback_rows())
    if include_labels:
        rows, left_out = rows_for_training(read_labelled_set(registry), data.labels)
        extra.append(rows)
        added = f" + {plural(len(rows), 'labelled text')}"
        if left_out:
            added += f" ({left_out:,} more left out: labels the data lacks)"
    extra_rows = pd.concat(extra, ignore_index=True) if extra else None
    command = f"dashboard retrain on {data.source}{added}: {params.to_dict()}"
    address = config.ray_address()
    if address is not None:
        check_can_train(str(registry.root))
    call = WorkerCall(
        "pipeline.train:train_and_save",
        {"data": data, "params": params, "registry": registry, "command": command,
         "extra_training_rows": extra_rows},
        ray_address=address,
    )  # fmt: skip
    description = f"{params.architecture} on {data.source}{added}"
    if address is not None:
        description += f", on the Ray cluster at {address}"
    get_runner().start(call, description, started=clicked)
    return description


@st.cache_data(show_spinner="Scoring the active version on the same test texts...")
def active_on_test_part(models_dir: str, active: str, new: str) -> tuple[dict, HeldOut]:
    """The active version's metrics on the new version's test texts, once per pair.

    The active version's predictor is the one the app already holds (get_predictor), so no
    second copy of the model is loaded.

    Returns:
        (metrics, whether its training left those texts out).
    """
    registry = Registry(models_dir)
    test = load_predictions(registry, new)
    if test is None:
        raise RegistryError(f"Version {new} kept no test predictions.")
    labels = registry.metadata(new)["labels"]
    predictor = get_predictor(models_dir, active)
    metrics = evaluate_predictor(predictor, test["text"], test["label"].tolist(), labels)
    return metrics, held_out_from(registry, active, new)


def comparison_table(result: dict, active: str | None, active_metrics: dict | None):
    """The new version, the active one and the TF-IDF baseline, all on the new test part."""
    sizes, data = result["split"]["sizes"], result["data"]
    rows = [
        {
            "model": f"new: {result['version']}",
            **result["metrics"],
            "measured on": f"its test part: {sizes['test']} rows of {data['name']}",
        }
    ]
    if active_metrics is not None:
        rows.append(
            {"model": f"active: {active}", **active_metrics, "measured on": "the same rows"}
        )
    rows.append(
        {
            "model": "baseline: tf-idf + logistic regression",
            **result["baseline"]["metrics"],
            "measured on": "the same rows (trained on the same training part)",
        }
    )
    table = pd.DataFrame(rows)[["model", "accuracy", "macro_f1", "measured on"]].round(3)
    return table.rename(columns={"macro_f1": "macro-F1"})


def score_active_ui(registry: Registry, version: str) -> tuple[str, dict, HeldOut] | None:
    """The active version scored on the new version's test part, if there is another one.

    Returns:
        (the active version, its metrics, whether those texts were held out from it), or
        None when there is none to compare, or it could not be scored (which is said).
    """
    active = registry.active_version()
    if active is None or active == version:
        return None
    try:
        return active, *active_on_test_part(str(registry.root), active, version)
    except SentimentError as exc:
        message = f"The active version {active} could not be scored on these test texts: {exc}"
        st.warning(escape_markdown(message))
        return None


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
    version = result["version"]
    # The one duration of the job: from the click on Start training until it was saved.
    st.success(
        f"Saved version {version} in {format_duration(state['elapsed'])}, "
        "counted from the click on Start training."
    )
    if state["where"]:
        st.caption(escape_markdown(f"Trained {state['where']}."))
    if state["history"]:
        st.altair_chart(curves_chart(state["history"]))
    active, active_metrics, held_out = score_active_ui(registry, version) or (None, None, None)
    st.dataframe(
        comparison_table(result, active, active_metrics),
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(format="%.3f") for name in ("accuracy", "macro-F1")
        },
    )
    if held_out is not None:
        note = st.warning if held_out.held_out is False else st.caption
        note(escape_markdown(held_out.message))  # it names the data files
    details_ui(result, training_time=False)
    if version in registry.versions():
        actions_ui(registry, version, active_metrics, result["metrics"])


def actions_ui(registry: Registry, version: str, active: dict | None, new: dict) -> None:
    """Try the new version, or promote it (admin only): below the active one, after a tick.

    Args:
        registry: the registry.
        version: the new version.
        active: the active version's metrics on the new version's test part, if any.
        new: the new version's test metrics.
    """
    is_active = registry.active_version() == version
    confirmed = True
    # Compared as shown (3 decimals), so the figures in the label always differ.
    new_f1 = round(new["macro_f1"], 3)
    active_f1 = None if active is None else round(active["macro_f1"], 3)
    if active_f1 is not None and not is_active and new_f1 < active_f1:
        confirmed = st.checkbox(
            f"Promote anyway: its macro-F1 is {new_f1:.3f}, below the active version's "
            f"{active_f1:.3f} on the same test texts",
            key=f"retrain_promote_anyway_{version}",
        )
    left, right = st.columns(2)
    left.button(
        "Try it in the Predict tab", key="retrain_try", on_click=_try_version, args=(version,)
    )
    disabled = is_active or not is_admin() or not confirmed
    if right.button("Promote to active", key="retrain_promote", disabled=disabled):
        registry.promote(version)
        st.toast(f"Version {version} is now active.")
        st.rerun()


def architecture_guide() -> str:
    """Every recipe's help line: which recipe for how many rows (from the learning curves,
    bench/learning_curve.py, on the GOP and Apple tweets)."""
    return "\n\n".join(f"**{name}**: {text}" for name, text in architecture_help().items())


def expected_time_ui(
    registry: Registry, architecture: str, chosen: tuple, finished: dict | None
) -> None:
    """The forecast for a run of the chosen recipe on the chosen data, not yet started.

    Left out while the results of a finished run of the same recipe on the same data are
    shown: that run's real duration is there, and a second figure beside it would read as
    another duration of the same job.
    """
    try:
        data = load_data(*chosen)
    except SentimentError:
        return  # the data's own problem is reported when training starts
    if finished and (finished["architecture"], finished["data"]["sha256"]) == (
        architecture,
        data.sha256,
    ):
        return
    rows = len(data.frame)
    seconds, basis = expected_training_seconds(registry, architecture, rows)
    refit_chosen = st.session_state.get(f"param_{architecture}_final_refit") == "yes"
    refit = (
        " A final refit about doubles it."
        if refit_chosen and any(s.name == "final_refit" for s in specs_for(architecture))
        else ""
    )
    st.caption(
        f"A {architecture} run on these {rows:,} rows should take {describe_duration(seconds)} "
        f"({basis}).{refit}"
    )


def where_ui(registry: Registry) -> None:
    """Where a training job runs, when that is a Ray cluster (SENTIMENT_RAY_ADDRESS)."""
    address = config.ray_address()
    if address is None:
        return
    try:
        check_can_train(str(registry.root))
    except SentimentError as exc:
        st.warning(escape_markdown(str(exc)))
        return
    st.caption(
        escape_markdown(
            f"Training runs on the Ray cluster at {address} ({config.RAY_ADDRESS_ENV}) and "
            f"saves into {registry.root}."
        )
    )


def retrain_ui(registry: Registry) -> None:
    """The whole Retrain tab."""
    runner = get_runner()
    job = runner.current
    running = job is not None and job.running
    architecture = st.selectbox(
        "Architecture", architectures(), key="retrain_architecture", help=architecture_guide()
    )
    st.caption(escape_markdown(architecture_help()[architecture]))
    chosen = choose_data_ui("retrain")
    sweep = st.radio("Mode", MODES, key="retrain_mode", horizontal=True) == MODES[1]
    finished = job.snapshot() if job is not None and not running and not is_sweep(job) else None
    if chosen is not None:
        expected_time_ui(registry, architecture, chosen, None if sweep else _result(finished))
    if sweep:
        sweep_ui(registry, architecture, chosen)
        return
    where_ui(registry)
    submitted = form_ui(architecture)
    if submitted is not None:
        if not may_train():
            st.warning("Training needs the admin password (sidebar).")
        elif chosen is None:
            st.error("Upload a labelled CSV first, or choose a bundled data set.")
        else:
            try:
                values, include_feedback, include_labels = submitted
                clicked = st.session_state.pop(CLICKED_KEY, None)
                start_job(registry, chosen, values, include_feedback, clicked, include_labels)
                running = True
            except SentimentError as exc:
                show_error(exc)
    if running:
        st.fragment(live_job_ui, run_every=POLL_SECONDS)()
    elif finished is not None:
        finished_ui(finished, registry)


def _result(state: dict | None) -> dict | None:
    """A finished job's saved version, if it succeeded."""
    return state["result"] if state and state["status"] == "succeeded" else None
