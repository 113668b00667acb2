"""Batch tab: score an uploaded CSV or pasted lines, show and download the result."""

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.csvfile import read_csv, require_columns
from pipeline.errors import DataError, SentimentError
from pipeline.predict import Predictor, score_frame, to_csv_bytes
from ui.charts import count_chart
from ui.common import show_error

MAX_BATCH_ROWS = 100_000


def source_ui() -> tuple[pd.DataFrame | None, str | None]:
    """The upload or the pasted lines. Returns the rows and the text column, or Nones."""
    upload = st.file_uploader("Upload a CSV file", type=["csv"], key="batch_file")
    pasted = st.text_area("…or paste texts, one per line", key="batch_paste", height=120)
    if upload is not None:
        # Only the first MAX_BATCH_ROWS + 1 rows are parsed, so a huge file is refused fast.
        frame, name, _ = read_csv(upload.getvalue(), max_rows=MAX_BATCH_ROWS, name=upload.name)
        if len(frame) > MAX_BATCH_ROWS:
            raise DataError(
                f"{name} has more than {MAX_BATCH_ROWS:,} rows, the Batch tab's cap. Score it "
                "with the command line instead: python -m pipeline predict --input FILE "
                "--output OUT"
            )
        if frame.empty:
            raise DataError(f"{name} has a header but no rows.")
        columns = [str(c) for c in frame.columns]
        default = (
            columns.index(config.DEFAULT_TEXT_COLUMN)
            if config.DEFAULT_TEXT_COLUMN in columns
            else 0
        )
        column = st.selectbox("Text column", columns, index=default, key="batch_column")
        require_columns(frame, [column], name)
        return frame, column
    lines = [line for line in pasted.splitlines() if line.strip()]
    if lines:
        return pd.DataFrame({"text": lines[:MAX_BATCH_ROWS]}), "text"
    return None, None


def results_ui(scored: pd.DataFrame, labels: list[str]) -> None:
    """The scored table, the label distribution and the download button."""
    st.dataframe(scored, width="stretch", hide_index=True)
    counts = scored["predicted_label"].value_counts().reindex(labels, fill_value=0)
    st.altair_chart(count_chart(counts, labels, "Predicted labels"), width="stretch")
    st.download_button(
        "Download scored CSV",
        data=to_csv_bytes(scored),
        file_name="scored.csv",
        mime="text/csv",
        on_click="ignore",
        key="batch_download",
    )


def batch_ui(predictor: Predictor) -> None:
    """The whole Batch tab."""
    try:
        frame, column = source_ui()
    except SentimentError as exc:
        show_error(exc)
        return
    if frame is None:
        st.info("Upload a CSV or paste some lines to score them all at once.")
        return
    st.caption(f"{len(frame):,} rows ready.")
    # A result is shown only for the input and model that produced it.
    signature = (predictor.version, column, int(pd.util.hash_pandas_object(frame).sum()))
    if st.button("Score", type="primary", key="batch_score"):
        progress = st.progress(0.0, text="Scoring…")

        def show(done: int) -> None:
            progress.progress(done / len(frame), text=f"Scored {done:,} of {len(frame):,} rows")

        st.session_state["batch_result"] = (signature, score_frame(predictor, frame, column, show))
        progress.empty()
    result = st.session_state.get("batch_result")
    if result is not None and result[0] == signature:
        results_ui(result[1], predictor.labels)
