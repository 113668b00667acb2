"""Data tab: the class balance, text lengths, duplicates and samples of a labelled CSV."""

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.analysis.corrections import data_columns, display_path, list_corrected_copies
from pipeline.data import LabelledData, load_labelled_data
from pipeline.errors import SentimentError
from pipeline.explore import describe_dataset
from pipeline.feedback import read_feedback
from pipeline.wording import plural
from ui.charts import count_chart, length_histogram
from ui.common import show_error
from ui.label_issues_view import label_checks_ui

UPLOAD = "Upload a CSV"


@st.cache_data(show_spinner="Reading the data...", max_entries=8)
def load_data(
    source: str | bytes, text_column: str, label_column: str, name: str | None = None
) -> LabelledData:
    """Load and validate a data set once per source and columns.

    Args:
        source: a path, or an upload's bytes.
        text_column: the column holding the texts.
        label_column: the column holding the labels.
        name: an upload's file name, for messages and the model's metadata.

    Returns:
        The validated data.
    """
    return load_labelled_data(source, text_column, label_column, name=name)


@st.cache_data(max_entries=8)
def describe(data: LabelledData) -> dict:
    """Summary figures and samples of a data set, cached."""
    return describe_dataset(data.frame, data.labels)


def dataset_sources() -> list[str]:
    """The bundled files present, the corrected copies (newest first), then the upload choice."""
    files = [config.KAGGLE_DATA_PATH, config.SAMPLE_DATA_PATH]
    copies = [display_path(path) for path in list_corrected_copies()]
    return [f"data/{path.name}" for path in files if path.is_file()] + copies + [UPLOAD]


def choose_data_ui(key: str) -> tuple[str | bytes, str, str, str | None] | None:
    """Pick a data set: data/Sentiment.csv, data/sample.csv, a corrected copy or an upload.

    Args:
        key: a prefix for the widget keys, so several tabs can use this.

    Returns:
        (source, text column, label column, upload's file name or None), the arguments of
        `load_data`, or None while an upload is awaited.
    """
    choice = st.radio("Data set", dataset_sources(), key=f"{key}_source", horizontal=True)
    if choice != UPLOAD:
        path = config.PROJECT_ROOT / choice
        return str(path), *data_columns(path), None
    upload = st.file_uploader("Labelled CSV", type=["csv"], key=f"{key}_file")
    if upload is None:
        return None
    left, right = st.columns(2)
    text_column = left.text_input("Text column", config.DEFAULT_TEXT_COLUMN, key=f"{key}_text")
    label_column = right.text_input("Label column", config.DEFAULT_LABEL_COLUMN, key=f"{key}_label")
    return upload.getvalue(), text_column, label_column, upload.name


def summary_ui(data: LabelledData, summary: dict) -> None:
    """Headline figures, the two charts and sample rows per class."""
    columns = st.columns(4)
    columns[0].metric("Rows", f"{summary['rows']:,}")
    columns[1].metric("Distinct texts", f"{summary['distinct_texts']:,}")
    columns[2].metric("Duplicates", f"{summary['duplicate_share']:.1%}")
    columns[3].metric("Retweets", f"{summary['retweet_share']:.1%}")
    if data.rows_dropped:
        verb = "was" if data.rows_dropped == 1 else "were"
        left_out = plural(data.rows_dropped, "row")
        st.caption(f"{left_out} with an empty text or label {verb} left out.")
    left, right = st.columns(2)
    left.altair_chart(
        count_chart(summary["class_counts"], data.labels, "Class balance"), width="stretch"
    )
    right.altair_chart(length_histogram(summary["lengths"]), width="stretch")
    st.subheader("Sample rows")
    samples = pd.concat(
        [rows.assign(label=label)[["label", "text"]] for label, rows in summary["samples"].items()]
    )
    st.dataframe(samples, width="stretch", hide_index=True)


def feedback_ui() -> None:
    """The predictions users marked as wrong, newest first."""
    feedback = read_feedback()
    st.subheader("Feedback")
    if feedback.empty:
        st.caption("No feedback yet: mark a wrong prediction in the Predict tab.")
        return
    st.caption(
        f"{plural(len(feedback), 'corrected prediction')}; the Retrain tab can train on them."
    )
    st.dataframe(feedback.iloc[::-1], width="stretch", hide_index=True)


def data_ui() -> None:
    """The whole Data tab."""
    dataset_ui()
    feedback_ui()


def dataset_ui() -> None:
    """The chosen data set's summary."""
    chosen = choose_data_ui("data")
    if chosen is None:
        st.info("Upload a labelled CSV, then name its text and label columns.")
        return
    try:
        data = load_data(*chosen)
    except SentimentError as exc:
        show_error(exc)
        return
    summary_ui(data, describe(data))
    label_checks_ui(data, chosen)
