"""Models tab: the versions, their details, download, promote, delete, evaluation on a
labelled CSV, calibration (ui/calibration_view.py), error analysis (ui/analysis_view.py) and
run comparison (ui/compare_view.py)."""

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.analysis.evaluations import evaluate_version
from pipeline.errors import SentimentError
from pipeline.registry import Registry
from pipeline.tracking import TENSORBOARD_FILE
from pipeline.wording import plural
from ui.analysis_view import NEW_EVALUATION_KEY, analysis_ui, source_ui
from ui.calibration_view import calibration_ui
from ui.charts import confusion_heatmap
from ui.common import escape_markdown, get_predictor, show_error
from ui.compare_view import compare_ui
from ui.data_tab import choose_data_ui
from ui.guard import is_admin, may_train

KEY_PARAMS = ("vocab_size", "sequence_length", "embedding_dim", "epochs", "learning_rate")


def versions_table(rows: list[dict], registry: Registry) -> pd.DataFrame:
    """One line per version: when, what, how well, on which data; the active one marked."""
    return pd.DataFrame(
        [
            {
                "active": "✔" if row["active"] else "",
                "version": row["version"],
                "status": f"broken: {problem}"
                if (problem := registry.problem(row["version"]))
                else "ok",
                "created": row.get("created", "")[:19].replace("T", " "),
                "architecture": row.get("architecture", "?"),
                **{name: row.get("params", {}).get(name) for name in KEY_PARAMS},
                "epochs run": row.get("epochs_run"),
                "accuracy": row.get("metrics", {}).get("accuracy"),
                "macro-F1": row.get("metrics", {}).get("macro_f1"),
                "data": row.get("data", {}).get("name"),
                "data rows": row.get("data", {}).get("rows_used"),
            }
            for row in rows
        ]
    )


def per_class_table(metadata: dict) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class on the test part."""
    per_class = metadata.get("metrics", {}).get("per_class", {})
    return pd.DataFrame(
        [{"class": label, **figures} for label, figures in per_class.items()]
    ).round(3)


def members_line(members: dict) -> str:
    """An ensemble's members, e.g. "Members: minilm (weight 0.5, 2 epochs), fasttext (...)"."""
    parts = [
        f"{name} (weight {figures['weight']:g}, {plural(figures['epochs_run'], 'epoch')})"
        for name, figures in members.items()
    ]
    return "Members, combined by a weighted geometric mean: " + ", ".join(parts)


def details_ui(metadata: dict, training_time: bool = True) -> None:
    """Headline metrics, per-class metrics and the confusion matrix of one version.

    Args:
        metadata: the version's metadata.
        training_time: show how long the fitting took; the Retrain tab leaves it out, as it
            shows the whole job's duration instead.
    """
    metrics = metadata.get("metrics", {})
    columns = st.columns(3)
    columns[0].metric("Test accuracy", f"{metrics.get('accuracy', float('nan')):.3f}")
    columns[1].metric("Test macro-F1", f"{metrics.get('macro_f1', float('nan')):.3f}")
    if training_time:
        columns[2].metric("Training time", f"{metadata.get('train_seconds', float('nan')):.0f} s")
    if metadata.get("members"):
        st.caption(members_line(metadata["members"]))
    st.dataframe(per_class_table(metadata), width="stretch", hide_index=True)
    if "confusion_matrix" in metrics:
        st.altair_chart(
            confusion_heatmap(metrics["confusion_matrix"], metadata["labels"], "Confusion matrix"),
            width="stretch",
        )


def registry_action(action, version: str, done: str) -> None:
    """Run a registry change; say it worked and redraw, or show why it did not."""
    try:
        action(version)
    except SentimentError as exc:
        st.error(str(exc))
        return
    st.toast(done)
    st.rerun()


def tensorboard_ui(registry: Registry, version: str) -> None:
    """Download a version's TensorBoard logs, or say why there are none."""
    try:
        path = registry.version_file(version, TENSORBOARD_FILE)
    except SentimentError as exc:
        st.caption(f"TensorBoard logs unavailable: {exc}")
        return
    if path is None:
        st.caption("No TensorBoard logs: this version was trained before they were kept.")
        return
    st.download_button(
        "Download TensorBoard logs",
        data=path.read_bytes(),
        file_name=f"tensorboard-{version}.zip",
        mime="application/zip",
        on_click="ignore",
        key="tensorboard_download",
        help="Unzip it, then run: tensorboard --logdir <that folder>",
    )


def actions_ui(registry: Registry, version: str, active: str | None) -> None:
    """Download, promote and delete one version."""
    left, middle, right = st.columns(3)
    problem = registry.problem(version)
    if problem:
        st.warning(f"Version {version} is broken: {problem}. It can be deleted, not used.")
    left.download_button(
        "Download .keras",
        data=b"" if problem else registry.model_file(version).read_bytes(),
        file_name=f"sentiment-{version}.keras",
        mime="application/octet-stream",
        on_click="ignore",
        key="model_download",
        disabled=bool(problem),
    )
    with left:
        tensorboard_ui(registry, version)
    admin = is_admin()
    if middle.button("Make active", key="promote", disabled=version == active or not admin):
        registry_action(registry.promote, version, f"Version {version} is now active.")
    confirm = right.checkbox(
        "Confirm delete", key="delete_confirm", disabled=version == active or not admin
    )
    if right.button("Delete", key="delete", disabled=version == active or not confirm or not admin):
        registry_action(registry.delete, version, f"Version {version} was deleted.")
    if version == active:
        st.caption("The active version cannot be deleted; make another one active first.")
    if not admin:
        st.caption("Making a version active and deleting one need the admin password (sidebar).")


def evaluate_ui(registry: Registry, version: str) -> None:
    """Score the version on a labelled CSV and keep the evaluation beside it; the next run
    shows it."""
    st.caption(
        "Score this version on any labelled CSV: the evaluation is kept beside the version "
        "with the data's name, SHA-256, rows and columns, and the views below can show it. "
        f"Its labels must be the version's; at most {config.MAX_TRAINING_ROWS:,} rows. "
        f"The same from a terminal: `python -m pipeline evaluate {version} --data <the CSV>`."
    )
    chosen = choose_data_ui("evaluate")
    allowed = may_train()
    if not allowed:
        st.caption("Evaluating writes into the model registry: it needs the admin password.")
    if not st.button(
        "Evaluate", key="evaluate_start", disabled=chosen is None or not allowed, type="primary"
    ):
        return
    source, text_column, label_column, name = chosen
    progress = st.progress(0.0, text="Scoring…")

    def show(done: int, total: int) -> None:
        progress.progress(done / total, text=f"Scoring {done:,} / {total:,} texts…")

    try:
        record = evaluate_version(
            registry, version, source, text_column, label_column, name=name,
            predictor=get_predictor(str(registry.root), version), on_progress=show,
        )  # fmt: skip
    except SentimentError as exc:
        progress.empty()
        show_error(exc)
        return
    data = record["data"]
    st.session_state[NEW_EVALUATION_KEY] = record["evaluation"]
    st.toast(
        escape_markdown(
            f"Evaluated on {data['path']}: accuracy {record['metrics']['accuracy']:.3f}, "
            f"macro-F1 {record['metrics']['macro_f1']:.3f}."
        )
    )
    st.rerun()


def models_ui(registry: Registry) -> None:
    """The whole Models tab."""
    rows = registry.list()
    active = registry.active_version()
    st.dataframe(versions_table(rows, registry), width="stretch", hide_index=True)
    versions = [row["version"] for row in rows]
    st.subheader("Details")
    version = st.selectbox(
        "Version",
        versions,
        index=versions.index(active) if active in versions else 0,
        key="models_detail",
        format_func=lambda v: f"{v} (active)" if v == active else v,
    )
    details_ui(registry.metadata(version))
    actions_ui(registry, version, active)
    st.subheader("Evaluations")
    source = source_ui(registry, version)
    with st.expander("Evaluate on a labelled CSV", expanded=source is None):
        evaluate_ui(registry, version)
    st.subheader("Calibration")
    calibration_ui(registry, version, source)
    st.subheader("Error analysis")
    analysis_ui(registry, version, rows, source)
    if len(versions) > 1:
        st.subheader("Compare runs")
        compare_ui(registry, versions)
