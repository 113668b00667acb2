"""The live view of a background job, shared by the Retrain tab's two modes (one training
run, a sweep): the job runner, its progress and curves, and the caps that apply to every
session."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.jobs import JobRunner
from ui.charts import series_color
from ui.common import escape_markdown

CAPS = {"epochs": config.MAX_RETRAIN_EPOCHS, "vocab_size": config.MAX_RETRAIN_VOCAB}
POLL_SECONDS = 1.0


@st.cache_resource
def get_runner() -> JobRunner:
    """One job runner per server process, shared by every session."""
    return JobRunner()


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
        color=series_color(list(dict.fromkeys(row["part"] for row in rows)), "part", title=None),
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
        st.toast("Cancelling: the training process stops after the current batch…")
