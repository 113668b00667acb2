"""Label tab: pick the texts of a pool worth labelling, label them one at a time (keyboard
shortcuts: 1, 2, 3... for the classes, S to skip, U to undo), and retrain with the labels.

Picking is pipeline.active.pick_texts; the queue is pipeline.active.queue.LabelQueue; the
labels go at once into the labelled set kept with the registry (pipeline.labelled).
The keys are bound only while the tab is open (streamlit_app.py's tabs know which one is):
Streamlit keeps hidden tabs mounted, and a key pressed on another tab must label nothing.
Labelling follows the admin guard's rule for training (ui.guard.may_train): the labels are
training data written into the model store, so a deployment that guards training guards
them too; picking, reading and downloading the set stay open.
"""

import streamlit as st

from pipeline import config
from pipeline.active import DEFAULT_STRATEGY, STRATEGIES, STRATEGY_HELP, pick_texts
from pipeline.active.files import TextFile, read_text_file
from pipeline.active.queue import LabelQueue
from pipeline.errors import SentimentError
from pipeline.labelled import MAX_ANNOTATOR_CHARS, LabelledSet, labelled_csv, read_labelled_set
from pipeline.params import architectures, resolve_params
from pipeline.predict import Predictor
from pipeline.registry import Registry
from pipeline.wording import plural
from ui.batch_tab import column_ui
from ui.common import escape_markdown, show_error
from ui.data_tab import choose_data_ui
from ui.guard import may_train
from ui.job_view import get_runner
from ui.monitor_tab import SENT_POOL, SENT_POOL_KEY
from ui.retrain_tab import CLICKED_KEY, architecture_guide, note_click, start_job

QUEUE_KEY = "label_queue"
MESSAGE_KEY = "label_message"
ANNOTATOR_KEY = "label_annotator"
STARTED_KEY = "label_retrain_job"
SAMPLE_POOL = "data/sample.csv (its texts)"
UPLOAD_POOL = "Upload a CSV"
DEFAULT_PICKS = 20
# The labelled set's newest rows shown under the labelling card.
SHOWN_LABELS = 100
# Keys for the class buttons, in the model's label order; S and U for skip and undo.
CLASS_SHORTCUTS = "123456789"


@st.cache_data(show_spinner="Reading the pool...", max_entries=4)
def load_pool(source: str | bytes, name: str | None) -> TextFile:
    """Read a pool CSV once per file (pipeline.active.files.read_text_file)."""
    return read_text_file(source, name=name, max_rows=config.MAX_POOL_ROWS)


def pool_ui() -> tuple[TextFile, str] | None:
    """The pool: the bundled sample's texts or an upload, and its text column (guessed,
    shown and changeable). Returns (the file, the text column), or None."""
    sent = st.session_state.get(SENT_POOL_KEY)
    choices = (SAMPLE_POOL, UPLOAD_POOL, *([SENT_POOL] if sent else []))
    choice = st.radio(
        "Pool of texts to label",
        choices,
        key="label_pool_source",
        horizontal=True,
        help="Any CSV with a column of texts; its other columns are kept but not shown. The "
        "Monitor tab can send a drifted window of logged texts here.",
    )
    if choice == SAMPLE_POOL:
        pool = load_pool(str(config.SAMPLE_DATA_PATH), "data/sample.csv")
    elif choice == SENT_POOL:
        pool = load_pool(sent["csv"], sent["name"])
    else:
        upload = st.file_uploader("Pool CSV", type=["csv"], key="label_pool_file")
        if upload is None:
            st.info("Upload a CSV of texts to label.")
            return None
        pool = load_pool(upload.getvalue(), upload.name)
    column = column_ui(pool.frame, pool.name, pool.sha256, key="label_pool", doing="Picking from")
    return pool, column


def strategy_help() -> str:
    """Every strategy's help, in STRATEGY_HELP's order (the default first)."""
    return "\n\n".join(f"**{name}**: {text}" for name, text in STRATEGY_HELP.items())


def pick_ui(registry: Registry, predictor: Predictor, pool: TextFile, column: str) -> None:
    """The strategy, N and the Pick button; a new queue replaces the session's."""
    left, right = st.columns(2)
    strategy = left.selectbox(
        "Strategy",
        STRATEGIES,
        index=STRATEGIES.index(DEFAULT_STRATEGY),
        key="label_strategy",
        help=strategy_help(),
    )
    count = right.number_input(
        "Texts to pick", 1, config.MAX_LABEL_PICKS, DEFAULT_PICKS, step=1, key="label_n"
    )
    st.caption(escape_markdown(STRATEGY_HELP[strategy]))
    if not st.button(f"Pick {count} texts", type="primary", key="label_pick"):
        return
    labelled = read_labelled_set(registry)
    progress = st.progress(0.0, text="Scoring the pool...")

    def show(done: int, total: int) -> None:
        progress.progress(done / total, text=f"Scored {done:,} of {total:,} texts")

    with st.spinner("Choosing the texts..."):
        picked, summary = pick_texts(
            predictor, pool.frame, column, int(count), strategy, labelled.frame["text"],
            on_progress=show,
        )  # fmt: skip
    progress.empty()
    st.session_state[QUEUE_KEY] = LabelQueue.from_picks(
        picked, summary, predictor.labels, pool.name, pool.sha256
    )


def pick_summary_ui(queue: LabelQueue) -> None:
    """What the pick did, in a sentence."""
    s = queue.summary
    left_out = [
        plural(s.excluded_as_labelled, "text") + " already labelled"
        if s.excluded_as_labelled
        else "",
        plural(s.duplicates_dropped, "copy", "copies") if s.duplicates_dropped else "",
        plural(s.empty_texts, "empty text") if s.empty_texts else "",
    ]
    left_out = [part for part in left_out if part]
    st.caption(
        f"Picked {s.picked:,} of the {s.rows_in_pool:,} rows of {escape_markdown(queue.pool)} "
        f"by {s.strategy}, with version {escape_markdown(s.version or 'none')}"
        + (f"; left out: {', '.join(left_out)}." if left_out else ".")
    )


def _annotator() -> str:
    return st.session_state.get(ANNOTATOR_KEY) or ""


def _act(action, position: int) -> None:
    """Run a button's action on the session's queue, once: a second press that arrives for
    a text already passed (a double click, a held key) is ignored."""
    queue = st.session_state.get(QUEUE_KEY)
    if queue is None or queue.position != position:
        return
    if not may_train():
        st.session_state[MESSAGE_KEY] = "Labelling needs the admin password (sidebar)."
        return
    try:
        action(queue)
    except SentimentError as exc:
        st.session_state[MESSAGE_KEY] = str(exc)


def _give(registry: Registry, label: str, position: int) -> None:
    _act(lambda queue: queue.give(registry, label, _annotator()), position)


def _skip(position: int) -> None:
    _act(lambda queue: queue.skip(), position)


def _undo(registry: Registry, position: int) -> None:
    _act(lambda queue: queue.undo(registry, _annotator()), position)


def card_ui(queue: LabelQueue) -> None:
    """The text to label now and the model's guess."""
    with st.container(border=True, key="label_card"):
        st.markdown(escape_markdown(queue.current))
    guess = queue.guess()
    if guess is None:
        st.caption("No model guess for this text.")
        return
    best = max(guess, key=guess.get)
    others = " · ".join(f"{escape_markdown(k)} {v:.0%}" for k, v in guess.items())
    st.caption(
        f"Version {escape_markdown(queue.summary.version)} guesses "
        f"**{escape_markdown(best)}** ({guess[best]:.0%}). Probabilities: {others}."
    )


def buttons_ui(registry: Registry, queue: LabelQueue, allowed: bool, shortcuts: bool) -> None:
    """One button per class (keys 1, 2, 3...), Skip (S) and Undo (U); the keys only when
    `shortcuts` (the Label tab is open)."""

    def key(shortcut: str | None) -> str | None:
        return shortcut if shortcuts else None

    position = queue.position
    finished = queue.current is None
    disabled = not allowed or not _annotator().strip() or finished
    with st.container(horizontal=True, key="label_buttons"):
        for i, label in enumerate(queue.labels):
            st.button(
                escape_markdown(label),
                key=f"label_class_{i}",
                type="primary",
                disabled=disabled,
                on_click=_give,
                args=(registry, label, position),
                shortcut=key(CLASS_SHORTCUTS[i] if i < len(CLASS_SHORTCUTS) else None),
            )
        st.button("Skip", key="label_skip", disabled=disabled, on_click=_skip,
                  args=(position,), shortcut=key("S"))  # fmt: skip
        st.button(
            "Undo",
            key="label_undo",
            disabled=not allowed or not queue.steps,
            on_click=_undo,
            args=(registry, position),
            shortcut=key("U"),
            help="Back to the last text you labelled or skipped; its label is removed.",
        )


def labelled_set_ui(labelled: LabelledSet) -> None:
    """The labelled set: counts, conflicts, the newest rows and the download."""
    st.subheader("The labelled set")
    conflicts = (
        f"; {plural(labelled.conflicts, 'text')} got labels that disagree (the latest counts)"
        if labelled.conflicts
        else ""
    )
    st.caption(
        f"{plural(labelled.texts, 'text')} labelled ({plural(labelled.labels_given, 'label')} "
        f"given){conflicts}. Kept in {escape_markdown(labelled.location)}, one record per "
        "label, saved as it is given."
    )
    if labelled.stale:
        st.warning(escape_markdown(f"{labelled.stale} Showing the labels cached here."))
    if not labelled.texts:
        return
    newest = labelled.frame.iloc[::-1].head(SHOWN_LABELS)
    columns = ["text", "label", "annotator", "created", "model_guess", "times_labelled",
               "conflict", "pool"]  # fmt: skip
    st.dataframe(newest[columns], hide_index=True, width="stretch")
    st.download_button(
        "Download the labelled CSV (text, label)",
        data=labelled_csv(labelled),
        file_name="labelled.csv",
        mime="text/csv",
        on_click="ignore",
        key="label_download",
    )


def labelling_ui(registry: Registry, allowed: bool, shortcuts: bool) -> None:
    """The queue's progress, the text shown now, the buttons and the labelled set; rerun
    alone (a fragment) on each label, so labelling never waits for the other tabs."""
    message = st.session_state.pop(MESSAGE_KEY, None)
    if message:
        show_error(message)
    try:
        labelled = read_labelled_set(registry)
    except SentimentError as exc:
        show_error(exc)
        return
    queue = st.session_state.get(QUEUE_KEY)
    if queue is None:
        st.info("Pick texts to label: they appear here one at a time.")
    else:
        pick_summary_ui(queue)
        queue.pass_labelled(labelled.frame["text"])
        progress = queue.progress()
        st.progress(progress.done / progress.total, text=f"{progress.done} of {progress.total}")
        others = f", {progress.by_others} labelled by someone else meanwhile"
        st.caption(
            f"You labelled {progress.labelled} and skipped {progress.skipped}"
            f"{others if progress.by_others else ''}."
        )
        if progress.finished:
            st.success(f"All {progress.total} texts are done. Pick more, or retrain below.")
        else:
            card_ui(queue)
        if not _annotator().strip():
            st.caption("Type your name above to label.")
        buttons_ui(registry, queue, allowed, shortcuts)
    labelled_set_ui(labelled)


def retrain_ui(registry: Registry, predictor: Predictor, allowed: bool) -> None:
    """Retrain with the labels: the base data plus the labelled set, the chosen recipe's
    default hyperparameters, in the Retrain tab's job."""
    st.subheader("Retrain with these labels")
    chosen = choose_data_ui("label_base")
    recipes = architectures()
    current = predictor.metadata.get("architecture")
    architecture = st.selectbox(
        "Recipe",
        recipes,
        index=recipes.index(current) if current in recipes else 0,
        key="label_architecture",
        help=architecture_guide(),
    )
    epochs = resolve_params({"architecture": architecture}).epochs
    st.caption(
        f"Trains {architecture} with its default hyperparameters (at most {epochs} epochs) on "
        "the data above, with the labelled set's texts added to its training part; texts that "
        "fall in its validation or test part stay out, so the test is unchanged. For other "
        "hyperparameters, use the Retrain tab's form and tick *Include the labelled set*."
    )
    job = get_runner().current
    clicked = st.button(
        "Retrain with these labels", key="label_retrain", on_click=note_click, disabled=not allowed
    )
    clicked_at = st.session_state.pop(CLICKED_KEY, None) if clicked else None
    if not allowed:
        st.caption("Training needs the admin password (sidebar).")
    if clicked and chosen is None:
        st.error("Upload a labelled CSV first, or choose a bundled data set.")
    elif clicked:
        try:
            description = start_job(
                registry, chosen, {"architecture": architecture}, False, clicked_at,
                include_labels=True,
            )  # fmt: skip
            job = get_runner().current
            st.session_state[STARTED_KEY] = (job.id, description)
        except SentimentError as exc:
            show_error(exc)
    started = st.session_state.get(STARTED_KEY)
    if started and job is not None and job.id == started[0]:
        verb = "is running" if job.running else "has ended"
        st.success(
            f"Training {escape_markdown(started[1])} {verb}. The **Retrain** tab shows its "
            "progress and, when it ends, compares the new version with the active one on "
            "the same test texts."
        )


def label_ui(registry: Registry, predictor: Predictor, shortcuts: bool = True) -> None:
    """The whole Label tab; `shortcuts`: bind the keyboard shortcuts (the tab is open)."""
    st.caption(
        "Label the texts the model is least sure of, one at a time: keys 1, 2, 3... give "
        "the classes in the buttons' order, S skips, U undoes. Each label is saved at once."
    )
    st.text_input("Your name (annotator)", key=ANNOTATOR_KEY, max_chars=MAX_ANNOTATOR_CHARS)
    allowed = may_train()
    if not allowed:
        st.warning(
            "Labelling needs the admin password (sidebar), as training does: the labels are "
            "training data. Picking and the labelled set stay open."
        )
    try:
        chosen = pool_ui()
        if chosen is not None:
            pick_ui(registry, predictor, *chosen)
    except SentimentError as exc:
        show_error(exc)
    st.fragment(labelling_ui)(registry, allowed, shortcuts)
    retrain_ui(registry, predictor, allowed)
