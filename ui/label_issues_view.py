"""The Data tab's label checks, for the data chosen there.

Likely label errors (confident learning, pipeline.analysis.label_issues), each with an
action to keep it, relabel it to the suggestion or drop it; saving writes a corrected copy
of the data (never the original) that the Retrain tab can train on. Below them, groups of
duplicate or near-duplicate texts whose labels conflict (pipeline.analysis.duplicates).
"""

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.analysis.corrections import DROP, display_path, write_corrected_copy
from pipeline.analysis.duplicates import (
    cached_conflicting_duplicates,
    describe_groups,
    summarize_duplicates,
)
from pipeline.analysis.label_issues import ISSUE_COLUMNS, cached_label_issues
from pipeline.data import LabelledData
from pipeline.errors import SentimentError
from pipeline.wording import plural
from ui.common import escape_markdown, show_error
from ui.guard import may_train

KEEP, RELABEL, DROP_ROW = "keep", "relabel", "drop"
ACTIONS = (KEEP, RELABEL, DROP_ROW)
# The worst this many likely errors are listed for marking (GOP has thousands).
SHOWN_ISSUES = 200
TOGGLE_KEY = "label_checks"
START_KEY = "label_issues_start"
SAVE_KEY = "label_issues_save"
# What the last save wrote, shown once after the rerun that lists the new copy.
SAVED_KEY = "label_issues_saved"


@st.cache_data(show_spinner="Looking for likely label errors...", max_entries=4)
def get_label_issues(data: LabelledData) -> pd.DataFrame:
    """The data's likely label errors, from the disk cache after the first time."""
    return cached_label_issues(data)


@st.cache_data(show_spinner="Looking for duplicates with conflicting labels...", max_entries=4)
def get_duplicates(data: LabelledData) -> pd.DataFrame:
    """The data's conflicting duplicate groups, from the disk cache after the first time."""
    return cached_conflicting_duplicates(data)


def editor_key(sha256: str, start: str) -> str:
    """The label-issue editor's key: a new data set or starting action starts afresh."""
    return f"label_issues_editor_{sha256[:16]}_{start}"


def marks_from_actions(edited: pd.DataFrame) -> dict[int, str | None]:
    """The editor's actions as corrections marks: row -> suggested label, or DROP.

    Args:
        edited: the editor's table (`row`, `suggested`, `action`).

    Returns:
        Marks for `write_corrected_copy`; kept rows are left out.
    """
    marks = {}
    for row, suggested, action in edited[["row", "suggested", "action"]].itertuples(index=False):
        if action == RELABEL:
            marks[int(row)] = suggested
        elif action == DROP_ROW:
            marks[int(row)] = DROP
    return marks


def label_checks_ui(data: LabelledData, chosen: tuple) -> None:
    """The label checks of the chosen data, once the person asks for them.

    Args:
        data: the loaded data.
        chosen: (source, text column, label column, upload name), as `choose_data_ui` gives.
    """
    st.subheader("Label checks")
    if not st.toggle("Look for likely label errors and conflicting duplicates", key=TOGGLE_KEY):
        st.caption(
            "Finds rows whose label the rest of the data contradicts, and copies of one "
            "text labelled differently. The first look at 14,000 rows takes up to half a "
            "minute; after that it is cached."
        )
        return
    try:
        issues = get_label_issues(data)
        duplicates = get_duplicates(data)
    except SentimentError as exc:
        show_error(exc)
        return
    issues_ui(data, chosen, issues)
    duplicates_ui(duplicates)


def issues_ui(data: LabelledData, chosen: tuple, issues: pd.DataFrame) -> None:
    """The likely label errors with an action per row, and the save button."""
    st.markdown("**Likely label errors**")
    if issues.empty:
        st.success("No likely label errors found.")
        return
    st.caption(
        f"{len(issues):,} of {plural(len(data.frame), 'row')} "
        f"({len(issues) / len(data.frame):.1%}) {'has' if len(issues) == 1 else 'have'} a label "
        "that out-of-fold predictions of a word + character TF-IDF logistic "
        "regression confidently contradict (confident learning, cleanlab). Worst first"
        + (f", the worst {SHOWN_ISSUES} shown" if len(issues) > SHOWN_ISSUES else "")
        + ". `row` is the row's position in the data, 0 the first row after the header."
    )
    start = st.selectbox("Start every row as", ACTIONS, key=START_KEY)
    shown = issues.head(SHOWN_ISSUES).assign(action=start)
    edited = st.data_editor(
        shown,
        key=editor_key(data.sha256, start),
        hide_index=True,
        width="stretch",
        disabled=ISSUE_COLUMNS,
        # The action first and the (long) text last, so both fit without scrolling sideways.
        column_order=["action", *[c for c in ISSUE_COLUMNS if c != "text"], "text"],
        column_config={
            "given_probability": st.column_config.NumberColumn("P(given)", format="%.3f"),
            "suggested_probability": st.column_config.NumberColumn("P(suggested)", format="%.3f"),
            "label_quality": st.column_config.NumberColumn("label quality", format="%.3f"),
            "action": st.column_config.SelectboxColumn(
                "action", options=list(ACTIONS), required=True
            ),
        },
    )
    save_ui(chosen, marks_from_actions(edited))


def save_ui(chosen: tuple, marks: dict) -> None:
    """The button that writes the corrected copy (admin only where a password is set)."""
    relabelled = sum(label is not DROP for label in marks.values())
    folder = display_path(config.corrected_data_dir())
    st.caption(
        f"{relabelled} to relabel, {len(marks) - relabelled} to drop. Saving writes a "
        f"corrected copy to {folder}/; the original file stays as it is."
    )
    allowed = may_train()
    if not allowed:
        st.caption("Saving writes on the server, so it needs the admin password (sidebar).")
    clicked = st.button(
        "Save a corrected copy", key=SAVE_KEY, disabled=not allowed or not marks, type="primary"
    )
    if saved := st.session_state.pop(SAVED_KEY, None):
        st.success(escape_markdown(saved))
    if not clicked:
        return
    source, text_column, label_column, name = chosen
    try:
        copy = write_corrected_copy(source, marks, text_column, label_column, name=name)
    except SentimentError as exc:
        show_error(exc)
        return
    st.session_state[SAVED_KEY] = (
        f"Saved {display_path(copy.path)}: {copy.relabelled} relabelled, {copy.dropped} "
        f"dropped, {plural(copy.rows, 'row')}; the changes are listed in {copy.record.name}. "
        "It is listed as a data set above and in the Retrain tab, to look at or train on."
    )
    st.rerun()  # the data set choices above were drawn before the copy existed


def duplicates_ui(groups: pd.DataFrame) -> None:
    """The groups of (near-)duplicate texts whose labels conflict, largest first."""
    st.markdown("**Duplicates with conflicting labels**")
    if groups.empty:
        st.success("No duplicate or near-duplicate texts with conflicting labels.")
        return
    counts = summarize_duplicates(groups)
    st.caption(
        f"{plural(counts['groups'], 'group')}: {counts['same_text_groups']:,} of one text "
        "(equal once case, a leading retweet mark and links are set aside), "
        f"{counts['near_groups']:,} of near duplicates (character n-gram cosine similarity at "
        f"least {config.NEAR_DUPLICATE_SIMILARITY}); {plural(counts['texts'], 'distinct text')} "
        f"in {plural(counts['rows'], 'row')}. Positions are rows as in the table above."
    )
    st.dataframe(describe_groups(groups), hide_index=True, width="stretch")
