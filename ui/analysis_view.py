"""Error analysis of one version (Models tab): confusion cells with their texts, slices and
behavioural checks, all read from what the version saved; nothing is recomputed."""

import numpy as np
import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.analysis.behaviour import run_behaviour_checks
from pipeline.analysis.confusion import cell_texts, confusion_counts
from pipeline.analysis.predictions import (
    COLUMN_PREFIX,
    compute_predictions,
    load_predictions,
    prob_column,
)
from pipeline.analysis.slices import slice_metrics
from pipeline.data import load_labelled_data
from pipeline.errors import SentimentError
from pipeline.explain import explain_by_occlusion
from pipeline.registry import Registry
from ui.common import escape_markdown, get_predictor, show_error
from ui.predict_tab import explanation_html

# Texts of a confusion cell shown with their word explanation; the table lists them all.
EXPLAINED_TEXTS = 5
CHECKS = ("typo", "name", "punctuation", "negation")
# Only the chosen section runs (st.tabs would run all three on every rerun).
SECTIONS = ("Confusion cells", "Slices", "Behavioural checks")


@st.cache_data(max_entries=16, show_spinner=False)
def cached_predictions(root: str, version: str) -> pd.DataFrame | None:
    """A version's test predictions, read once per process (versions never change)."""
    return load_predictions(Registry(root), version)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_slices(root: str, version: str) -> pd.DataFrame:
    """The slice table of a version, computed once from its saved predictions."""
    predictions = cached_predictions(root, version)
    return slice_metrics(predictions, Registry(root).metadata(version)["labels"])


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
    """For a version saved before predictions were kept: compute them once from its data."""
    data = metadata.get("data", {})
    st.info(
        f"Version {version} was saved before test predictions were kept with each version. "
        f"They can be computed once from its training data, "
        f"{escape_markdown(data.get('name', '?'))}."
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


def confusion_cell_ui(root: str, version: str, predictions: pd.DataFrame, labels: list[str]):
    """Pick a cell of the confusion matrix; see its texts, most confident first."""
    counts = confusion_counts(predictions, labels)
    st.dataframe(counts, width="content")
    left, right = st.columns(2)
    # Start on the largest cell of wrong predictions, the commonest confusion (keys per
    # version, so another version starts on its own).
    wrong_counts = counts.where(~np.eye(len(labels), dtype=bool), -1)
    commonest = wrong_counts.stack().idxmax()
    true = left.selectbox(
        "True label", labels, index=labels.index(commonest[0]), key=f"analysis_true_{version}",
        format_func=escape_markdown,
    )  # fmt: skip
    predicted = right.selectbox(
        "Predicted label",
        labels,
        index=labels.index(wrong_counts.loc[true].idxmax()),
        key=f"analysis_predicted_{version}",
        format_func=lambda label: f"{label} ({counts.loc[true, label]} texts)",
    )
    cell = cell_texts(predictions, true, predicted)
    verdict = "right" if true == predicted else "wrong"
    st.caption(
        f"{len(cell)} test texts labelled {escape_markdown(true)}, predicted "
        f"{escape_markdown(predicted)} ({verdict}); the most confident first."
    )
    columns = ["text", "label", "predicted", prob_column(predicted)]
    extra = [c for c in cell.columns if c.startswith(COLUMN_PREFIX)]
    shown = cell[columns + extra].rename(columns=lambda c: c.removeprefix(COLUMN_PREFIX))
    st.dataframe(shown, width="stretch", hide_index=True, key="analysis_cell_table")
    for text in cell["text"].head(EXPLAINED_TEXTS):
        explanation = cached_explanation(root, version, text)
        st.html(explanation_html(explanation, labels))


def slices_ui(root: str, version: str) -> None:
    """Accuracy and macro-F1 by slice, the worst first."""
    table = cached_slices(root, version)
    st.caption(
        "Accuracy and macro-F1 of the test texts in each slice (slices of at least 10 texts), "
        "with the difference from the whole test part; the worst slices first."
    )
    st.dataframe(table.round(3), width="stretch", hide_index=True, key="analysis_slices")


def behaviour_table(rows: list[dict]) -> pd.DataFrame:
    """Pass rates of each check, one line per version."""
    return pd.DataFrame(
        [
            {
                "version": row["version"],
                "architecture": row.get("architecture", "?"),
                **{check: row["behaviour"].get(check, {}).get("pass_rate") for check in CHECKS},
            }
            for row in rows
        ]
    )


def behaviour_ui(registry: Registry, rows: list[dict], version: str) -> None:
    """The behavioural checks' pass rates of every version, and one version's failures."""
    st.caption(
        "Share of cases that pass. Invariance: a typo, another person's name or end "
        "punctuation should not change the label. Directional: 'not' before a positive word "
        "should lower the positive probability. Built-in sentences, so every version is "
        "checked alike."
    )
    stored = [row for row in rows if row.get("behaviour")]
    missing = [row["version"] for row in rows if not row.get("behaviour")]
    if missing and st.toggle(
        f"Also check the {len(missing)} versions saved before checks were stored",
        key="analysis_check_old",
    ):
        for old in missing:
            try:
                checks = cached_checks(registry.root, old)
            except SentimentError as exc:
                show_error(exc)
                continue
            row = next(r for r in rows if r["version"] == old)
            stored.append({**row, "behaviour": checks})
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


def analysis_ui(registry: Registry, version: str, rows: list[dict]) -> None:
    """The error analysis of one version: confusion cells, slices and behavioural checks."""
    metadata = registry.metadata(version)
    labels = metadata["labels"]
    root = str(registry.root)
    try:
        predictions = cached_predictions(root, version)
    except SentimentError as exc:
        show_error(exc)
        predictions = None
    section = st.radio(
        "Show", SECTIONS, horizontal=True, key="analysis_section", label_visibility="collapsed"
    )
    if section == SECTIONS[2]:
        behaviour_ui(registry, rows, version)
    elif predictions is None:
        missing_predictions_ui(registry, version, metadata)
    elif section == SECTIONS[0]:
        confusion_cell_ui(root, version, predictions, labels)
    else:
        slices_ui(root, version)
