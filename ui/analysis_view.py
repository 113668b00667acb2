"""Error analysis of one version (Models tab): confusion cells with their texts, slices and
behavioural checks, read from the predictions chosen (the test part saved at training, or
an evaluation stored beside the version; pipeline.analysis.evaluations); nothing is
recomputed."""

import numpy as np
import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.analysis.behaviour import CHECKS, run_behaviour_checks
from pipeline.analysis.confusion import cell_texts, confusion_counts
from pipeline.analysis.evaluations import (
    TEST_PART,
    PredictionSource,
    load_source_predictions,
    prediction_sources,
    recorded_behaviour,
)
from pipeline.analysis.predictions import COLUMN_PREFIX, compute_predictions, prob_column
from pipeline.analysis.slices import MIN_SLICE_ROWS, slice_metrics
from pipeline.data import load_labelled_data
from pipeline.errors import SentimentError
from pipeline.explain import explain_by_occlusion
from pipeline.recipes import explains_at_once
from pipeline.registry import Registry
from pipeline.wording import percent, plural
from ui.common import escape_markdown, get_predictor, show_error
from ui.predict_tab import explanation_html

# Texts of a confusion cell shown with their word explanation; the table lists them all.
EXPLAINED_TEXTS = 5
# Only the chosen section runs (st.tabs would run all three on every rerun).
SECTIONS = ("Confusion cells", "Slices", "Behavioural checks")


@st.cache_data(max_entries=16, show_spinner=False)
def cached_predictions(root: str, version: str, source: str = TEST_PART) -> pd.DataFrame | None:
    """A version's test predictions, or one of its evaluations', read once per process
    (versions and evaluations never change)."""
    return load_source_predictions(Registry(root), version, source)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_slices(root: str, version: str, source: str, labels: tuple[str, ...]) -> pd.DataFrame:
    """The slice table of one source's predictions, computed once."""
    return slice_metrics(cached_predictions(root, version, source), list(labels))


@st.cache_data(max_entries=512, show_spinner=False)
def cached_explanation(root: str, version: str, text: str) -> dict:
    """The word explanation of one text by one version, computed once."""
    return explain_by_occlusion(get_predictor(root, version), text)


@st.cache_data(max_entries=64, show_spinner="Running the behavioural checks…")
def cached_checks(root: str, version: str) -> dict:
    """Behavioural checks of a version saved before they were stored in its metadata."""
    return run_behaviour_checks(get_predictor(root, version))


def training_file(metadata: dict):
    """The version's training CSV if a file of that name is in data/, else None (whether
    it is the same file, by SHA-256, is checked by compute_predictions)."""
    name = metadata.get("data", {}).get("name")
    path = config.DATA_DIR / name if name else None
    return path if path is not None and path.is_file() else None


def missing_predictions_ui(registry: Registry, version: str, metadata: dict) -> None:
    """For a version without test predictions or evaluations: compute its test predictions
    once from its data, or evaluate it on a labelled CSV."""
    data = metadata.get("data", {})
    why = (
        "was shipped without its test predictions"
        if metadata.get("files_left_out")
        else "was saved before test predictions were kept with each version"
    )
    st.info(
        f"Version {version} {why}. They can be computed once from its training data, "
        f"{escape_markdown(data.get('name', '?'))}; or evaluate it on any labelled CSV "
        "(Evaluate on a labelled CSV, above)."
    )
    path = training_file(metadata)
    if path is None:
        st.caption(
            "Put that file in data/ to compute them here, or run "
            f"`python -m pipeline errors {version} --data <the file>`."
        )
        return
    if st.button("Compute the test predictions", key="analysis_compute"):
        try:
            columns = (data.get("text_column", "text"), data.get("label_column", "sentiment"))
            with st.spinner("Predicting the test part once…"):
                compute_predictions(registry, version, load_labelled_data(path, *columns))
        except SentimentError as exc:
            show_error(exc)
            return
        cached_predictions.clear()
        st.rerun()


def confusion_cell_ui(
    root: str, version: str, predictions: pd.DataFrame, metadata: dict, source: PredictionSource
):
    """Pick a cell of the confusion matrix; see its texts, most confident first, and the
    words that drove the first few."""
    labels = metadata["labels"]
    counts = confusion_counts(predictions, labels)
    st.dataframe(counts, width="content")
    left, right = st.columns(2)
    # Start on the largest cell of wrong predictions, the commonest confusion (keys per
    # version and source, so each starts on its own).
    wrong_counts = counts.where(~np.eye(len(labels), dtype=bool), -1)
    commonest = wrong_counts.stack().idxmax()
    key = f"{version}_{source.key}"
    true = left.selectbox(
        "True label", labels, index=labels.index(commonest[0]), key=f"analysis_true_{key}",
        format_func=escape_markdown,
    )  # fmt: skip
    predicted = right.selectbox(
        "Predicted label",
        labels,
        index=labels.index(wrong_counts.loc[true].idxmax()),
        key=f"analysis_predicted_{key}",
        format_func=lambda label: f"{label} ({plural(counts.loc[true, label], 'text')})",
    )
    cell = cell_texts(predictions, true, predicted)
    verdict = "right" if true == predicted else "wrong"
    st.caption(
        f"{plural(len(cell), 'text')} of {escape_markdown(source.name)} labelled "
        f"{escape_markdown(true)}, predicted {escape_markdown(predicted)} ({verdict}); the "
        "most confident first."
    )
    columns = ["text", "label", "predicted", prob_column(predicted)]
    extra = [c for c in cell.columns if c.startswith(COLUMN_PREFIX)]
    shown = cell[columns + extra].rename(columns=lambda c: c.removeprefix(COLUMN_PREFIX))
    st.dataframe(shown, width="stretch", hide_index=True, key="analysis_cell_table")
    texts = cell["text"].head(EXPLAINED_TEXTS).tolist()
    # As in the Predict tab: a transformer version explains on request (each explanation
    # is about ten predictions' work).
    if not texts or not (
        explains_at_once(metadata.get("architecture"))
        or st.toggle(
            f"Word explanations of the {plural(len(texts), 'most confident text')}",
            key="analysis_explain",
            help="Scores each text once more per word; with a transformer that takes a "
            "few seconds.",
        )
    ):
        return
    try:
        for text in texts:
            st.html(explanation_html(cached_explanation(root, version, text), labels))
    except SentimentError as exc:  # a broken model file: the predictions still show
        show_error(exc)


def slices_ui(root: str, version: str, source: PredictionSource) -> None:
    """Accuracy and macro-F1 by slice, the worst first."""
    table = cached_slices(root, version, source.key, source.labels)
    name = escape_markdown(source.name)
    st.caption(
        f"Accuracy and macro-F1 of the texts of {name} in each slice (slices of at least "
        f"{plural(MIN_SLICE_ROWS, 'text')}), with the difference from the whole of {name}; "
        "the worst slices first."
    )
    st.dataframe(table.round(3), width="stretch", hide_index=True, key="analysis_slices")


def behaviour_table(rows: list[dict]) -> pd.DataFrame:
    """Pass rates of each check, as percentages, one line per version."""
    return pd.DataFrame(
        [
            {
                "version": row["version"],
                "architecture": row.get("architecture", "?"),
                **{
                    check: percent(row["behaviour"].get(check, {}).get("pass_rate"))
                    for check in CHECKS
                },
                "checked": row["checked"],
            }
            for row in rows
        ]
    )


def behaviour_ui(registry: Registry, rows: list[dict], version: str) -> None:
    """The behavioural checks' pass rates of every version, and one version's failures."""
    st.caption(
        "Share of cases that pass. Invariance: a typo, another person's name or end "
        "punctuation should not change the label. Directional: 'not' before a positive word "
        "should lower the positive probability, and a positive emoji (😍 👏) at the end of a "
        "plain sentence raise it, a negative one (😡 👎) the negative probability. Built-in "
        "sentences, so every version is checked alike. n/a: the check needs a class the version "
        "does not have, or did not exist yet when the version was checked."
    )
    stored, missing = [], []
    for row in rows:
        try:
            checks, checked = recorded_behaviour(registry, row["version"])
        except SentimentError as exc:
            show_error(exc)
            continue
        if checks:
            stored.append({**row, "behaviour": checks, "checked": checked})
        else:
            missing.append(row["version"])
    if missing and st.toggle(
        f"Also check the {plural(len(missing), 'version')} saved before checks were stored",
        key="analysis_check_old",
    ):
        for old in missing:
            try:
                checks = cached_checks(registry.root, old)
            except SentimentError as exc:
                show_error(exc)
                continue
            row = next(r for r in rows if r["version"] == old)
            stored.append({**row, "behaviour": checks, "checked": "now"})
    if stored:
        st.dataframe(
            behaviour_table(stored), width="stretch", hide_index=True, key="analysis_behaviour"
        )
    chosen = next((row for row in stored if row["version"] == version), None)
    if chosen:
        failures = [
            {"check": check, "original": f[0], "changed": f[1], "label before": f[2],
             "label after": f[3]}
            for check, result in chosen["behaviour"].items()
            for f in result.get("failures", [])
        ]  # fmt: skip
        if failures:
            st.caption(f"Some failing cases of version {version}:")
            st.dataframe(pd.DataFrame(failures), width="stretch", hide_index=True)


def analysis_ui(
    registry: Registry, version: str, rows: list[dict], source: PredictionSource | None
) -> None:
    """The error analysis of one version: confusion cells, slices and behavioural checks.

    Args:
        registry: the registry.
        version: the version shown.
        rows: every version's metadata (registry.list()), for the behavioural checks.
        source: the predictions to analyse (see `source_ui`), or None when it has none.
    """
    metadata = registry.metadata(version)
    root = str(registry.root)
    predictions = None
    if source is not None:
        try:
            predictions = cached_predictions(root, version, source.key)
        except SentimentError as exc:
            show_error(exc)
    section = st.radio(
        "Show", SECTIONS, horizontal=True, key="analysis_section", label_visibility="collapsed"
    )
    if section == SECTIONS[2]:
        behaviour_ui(registry, rows, version)
    elif predictions is None:
        missing_predictions_ui(registry, version, metadata)
    elif section == SECTIONS[0]:
        confusion_cell_ui(root, version, predictions, metadata, source)
    else:
        slices_ui(root, version, source)


# Set to a new evaluation's id, so the next run shows it (a widget's value cannot be set
# once the widget is drawn).
NEW_EVALUATION_KEY = "models_new_evaluation"


def source_key(version: str) -> str:
    """The session key of the predictions chosen for a version."""
    return f"models_source_{version}"


def source_ui(registry: Registry, version: str) -> PredictionSource | None:
    """Choose the predictions the calibration and error-analysis views show: the test part
    saved at training, or an evaluation stored beside the version.

    Returns:
        The chosen source, or None when the version has none.
    """
    try:
        sources = {source.key: source for source in prediction_sources(registry, version)}
    except SentimentError as exc:
        show_error(exc)
        return None
    if not sources:
        st.caption(
            f"Version {version} has neither test predictions nor evaluations: evaluate it on "
            "a labelled CSV below."
        )
        return None
    new = st.session_state.pop(NEW_EVALUATION_KEY, None)
    if new in sources:
        st.session_state[source_key(version)] = new
    chosen = st.selectbox(
        "Predictions shown in Calibration and Error analysis",
        list(sources),
        key=source_key(version),
        format_func=lambda key: sources[key].title,
        help="The test part saved at training, when the version kept it, or an evaluation "
        "on a labelled CSV (newest first). Only the test part is the version's held-out "
        "data; another file may overlap what it trained on.",
    )
    st.caption(escape_markdown(sources[chosen].about))
    return sources[chosen]
