"""Batch tab: score an uploaded CSV or pasted lines, show and download the result."""

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.csvfile import check_text_column, guess_text_column, read_csv, to_csv_bytes
from pipeline.errors import DataError, SentimentError
from pipeline.monitor.log import log_predictions
from pipeline.predict import Predictor, score_frame
from pipeline.wording import plural
from ui.charts import count_chart
from ui.common import escape_markdown, show_error

MAX_BATCH_ROWS = 100_000
# Rows of the chosen text column shown before scoring.
PREVIEW_ROWS = 5


def source_ui() -> tuple[pd.DataFrame | None, str | None]:
    """The upload or the pasted lines. Returns the rows and the text column, or Nones."""
    upload = st.file_uploader("Upload a CSV file", type=["csv"], key="batch_file")
    pasted = st.text_area("…or paste texts, one per line", key="batch_paste", height=120)
    if upload is not None:
        # Only the first MAX_BATCH_ROWS + 1 rows are parsed, so a huge file is refused fast.
        frame, name, digest = read_csv(upload.getvalue(), max_rows=MAX_BATCH_ROWS, name=upload.name)
        if len(frame) > MAX_BATCH_ROWS:
            raise DataError(
                f"{name} has more than {MAX_BATCH_ROWS:,} rows, the Batch tab's cap. Score it "
                "with the command line instead: python -m pipeline predict --input FILE "
                "--output OUT"
            )
        if frame.empty:
            raise DataError(f"{name} has a header but no rows.")
        return frame, column_ui(frame, name, digest)
    lines = [line for line in pasted.splitlines() if line.strip()]
    if lines:
        return pd.DataFrame({"text": lines[:MAX_BATCH_ROWS]}), "text"
    return None, None


def column_ui(
    frame: pd.DataFrame, name: str, digest: str, key: str = "batch", doing: str = "Scoring"
) -> str:
    """The "Text column" selectbox, set to the guess for each new file, with what it took
    and a preview. Returns the column; a numeric or empty one is refused (DataError).

    Args:
        frame, name, digest: the file read (pipeline.csvfile.read_csv).
        key: the prefix of the widget keys, so several tabs can use this.
        doing: what is done with the texts, for the caption ("Scoring", "Picking from").
    """
    guess = guess_text_column(frame, name, config.DEFAULT_TEXT_COLUMN)
    if st.session_state.get(f"{key}_column_file") != digest:
        # A new file: start from its guess, not from the previous file's choice.
        st.session_state[f"{key}_column_file"] = digest
        st.session_state[f"{key}_column"] = guess
    columns = [str(c) for c in frame.columns]
    column = st.selectbox("Text column", columns, key=f"{key}_column")
    check_text_column(frame, column, name)
    if column != guess:
        how = f"your choice (the guess was {escape_markdown(guess)})"
    elif guess == config.DEFAULT_TEXT_COLUMN:
        how = f"guessed: it is named “{config.DEFAULT_TEXT_COLUMN}”"
    else:
        how = "guessed: of the columns that are not numbers, it holds the longest texts"
    st.caption(
        f"{doing} the texts of column **{escape_markdown(column)}**, {how}. "
        "Pick another in **Text column** if these are not the texts."
    )
    st.dataframe(frame[[column]].head(PREVIEW_ROWS), width="stretch", hide_index=True)
    return column


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
    st.caption(f"{plural(len(frame), 'row')} ready.")
    # A result is shown only for the input and model that produced it.
    signature = (predictor.version, column, int(pd.util.hash_pandas_object(frame).sum()))
    if st.button("Score", type="primary", key="batch_score"):
        progress = st.progress(0.0, text="Scoring…")

        def show(done: int) -> None:
            progress.progress(done / len(frame), text=f"Scored {done:,} of {len(frame):,} rows")

        scored = score_frame(predictor, frame, column, show)
        st.session_state["batch_result"] = (signature, scored)
        progress.empty()
        probabilities = scored[[f"prob_{label}" for label in predictor.labels]].to_numpy()
        texts = frame[column].astype(str).tolist()
        log_predictions(texts, probabilities, predictor.labels, predictor.version, "batch")
    result = st.session_state.get("batch_result")
    if result is not None and result[0] == signature:
        results_ui(result[1], predictor.labels)
