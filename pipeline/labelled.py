"""The labelled set: labels given in the Label view, kept with the registry.

Each label is saved the moment it is given, as its own small immutable record in the
registry's store, under `.labels/<label id>/metadata.json` (store.LABELS_DIR), committed
like an evaluation: on a local folder by one rename under the store's lock, on object
storage by one create-only upload. So:

- a reboot loses nothing when the registry is on object storage (Streamlit Community
  Cloud's disk is not kept);
- two people labelling at once never lose or duplicate a label: nobody rewrites a shared
  file, each label is a new object under a name nobody else can pick (UTC time to the
  microsecond plus 32 random bits), so there is no read-modify-write to race;
- undo deletes one record, the annotator's own.

A record holds the text, the label, the annotator, the UTC time, the pool it came from
(name and SHA-256), and the model's guess (version, label, every class's probability).

Reading the set back (`read_labelled_set`) gives one row per text. Texts are the same
text when equal after `pipeline.text.normalize_for_grouping` (the key picking excludes by
and the split groups by). When a text was labelled more than once, the latest label wins;
`times_labelled` counts the labels it got, and `conflict` marks a text whose labels
disagree (compared as training compares labels: "Positive" is " positive"), so a view can
show how many there are.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from pipeline import config
from pipeline.data import normalize_label
from pipeline.errors import DataError, RateLimited, RegistryError
from pipeline.registry import Registry
from pipeline.registry.store import LABELS_DIR
from pipeline.text import normalize_for_grouping

# The columns of the labelled set, one row per text; `times_labelled` and `conflict` follow.
COLUMNS = [
    "text", "label", "annotator", "created", "pool", "pool_sha256", "model_version",
    "model_guess", "model_probability", "label_id",
]  # fmt: skip
MAX_ANNOTATOR_CHARS = 60
# The label column of the exported CSV and of the rows added to training.
TRAINING_COLUMNS = ["text", "label"]


@dataclass(frozen=True)
class LabelledSet:
    """The labelled set as read now.

    Attributes:
        frame: one row per text (COLUMNS, `times_labelled`, `conflict`), oldest first.
        labels_given: every label record read, repeats included.
        conflicts: texts whose labels disagree (the latest one is kept).
        location: where the set lives, for messages.
        stale: why the store could not be reached (the labels cached on this machine were
            read instead), or None.
    """

    frame: pd.DataFrame
    labels_given: int
    conflicts: int
    location: str
    stale: str | None = None

    @property
    def texts(self) -> int:
        """How many distinct texts are labelled."""
        return len(self.frame)


def labels_location(registry: Registry) -> str:
    """Where a registry's labelled set lives: a folder or a URL prefix."""
    return f"{registry.root}/{LABELS_DIR}"


def _store(registry: Registry):
    return registry.store.substore(LABELS_DIR)


def new_label_id() -> str:
    """A sortable id nobody else can pick: UTC time to the microsecond, 8 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f-") + secrets.token_hex(4)


def check_annotator(annotator: str) -> str:
    """The annotator's name, stripped; refused when empty or too long.

    Raises:
        DataError: no name, or a name over MAX_ANNOTATOR_CHARS characters.
    """
    name = " ".join(str(annotator or "").split())
    if not name:
        raise DataError("Type your name as annotator first; every label records who gave it.")
    if len(name) > MAX_ANNOTATOR_CHARS:
        raise DataError(f"The annotator's name is over {MAX_ANNOTATOR_CHARS} characters.")
    return name


def read_labels(registry: Registry) -> tuple[list[dict], str | None]:
    """Every label record, oldest first.

    Args:
        registry: the registry the labels live with.

    Returns:
        The records, and why the store could not be reached (the cached records were read
        then), or None.
    """
    store = _store(registry)
    with registry.writing("read the labelled set"):
        ids = store.committed()
        stale = store.unavailable
        records = []
        for label_id in ids:
            try:
                records.append(json.loads(store.read_metadata(label_id)))
            except FileNotFoundError:
                continue  # undone while it was read
            except ValueError as exc:
                raise RegistryError(f"Label {label_id} in {store.location} is unreadable.") from exc
    records.sort(key=lambda r: (r.get("created", ""), r.get("label_id", "")))
    return records, stale


def save_label(
    registry: Registry,
    text: str,
    label: str,
    annotator: str,
    pool: str,
    pool_sha256: str = "",
    model_version: str | None = None,
    probabilities: dict[str, float] | None = None,
) -> dict:
    """Save one label at once, as its own record.

    Args:
        registry: the registry the labels live with.
        text: the text labelled.
        label: the label given.
        annotator: who gave it.
        pool: the name of the pool the text came from.
        pool_sha256: the pool file's SHA-256.
        model_version: the version whose guess was shown, or None.
        probabilities: that version's probability for each class; the guess is the largest.

    Returns:
        The record saved, with its `label_id` and `created` (UTC, ISO 8601).

    Raises:
        DataError: an empty text or label, or no annotator. RateLimited: the set holds
            LABELS_TOTAL labels already.
    """
    annotator = check_annotator(annotator)
    if not str(text).strip():
        raise DataError("An empty text cannot be labelled.")
    if not str(label).strip():
        raise DataError("The label is empty.")
    store = _store(registry)
    cap = config.limit("LABELS_TOTAL")
    with registry.writing("count the labels"):
        if len(store.committed()) >= cap:
            raise RateLimited(
                f"The labelled set is full ({cap:,} labels); export it, train on it and "
                "start a new one.",
                retry_after=3600,
            )
    probabilities = {str(k): round(float(v), 6) for k, v in (probabilities or {}).items()}
    record = {
        "label_id": new_label_id(),
        "text": str(text),
        "label": str(label),
        "annotator": annotator,
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "pool": pool,
        "pool_sha256": pool_sha256,
        "model_version": model_version or "",
        "model_guess": max(probabilities, key=probabilities.get) if probabilities else "",
        "model_probabilities": probabilities,
    }
    with registry.writing("save the label"):
        store.commit_record(record["label_id"], json.dumps(record))
    return record


def undo_label(registry: Registry, annotator: str, label_id: str | None = None) -> dict | None:
    """Remove one of an annotator's labels: `label_id`, or else their latest.

    Args:
        registry: the registry the labels live with.
        annotator: whose label to remove; another's is never removed.
        label_id: the label to remove; None for the annotator's latest.

    Returns:
        The removed record, or None when there was none to remove.

    Raises:
        DataError: `label_id` was given by another annotator.
    """
    annotator = check_annotator(annotator)
    records, _ = read_labels(registry)
    if label_id is None:
        mine = [r for r in records if r.get("annotator") == annotator]
        if not mine:
            return None
        record = mine[-1]
    else:
        record = next((r for r in records if r.get("label_id") == label_id), None)
        if record is None:
            return None
        if record.get("annotator") != annotator:
            raise DataError(f"Label {label_id} was given by another annotator; it stays.")
    store = _store(registry)
    with registry.writing("undo the label"), store.exclusive():
        hidden = store.hide(record["label_id"])
        store.purge(record["label_id"], hidden)
    return record


def labelled_frame(records: list[dict]) -> tuple[pd.DataFrame, int]:
    """One row per text from label records: the latest label of each text wins.

    Args:
        records: label records, in any order.

    Returns:
        The frame (COLUMNS, `times_labelled`, `conflict`), oldest label first, and how many
        texts got labels that disagree.
    """
    if not records:
        empty = pd.DataFrame(columns=[*COLUMNS, "times_labelled", "conflict"])
        return empty.astype({"times_labelled": int, "conflict": bool}), 0
    rows = pd.DataFrame(
        [
            {
                **{c: str(r.get(c, "")) for c in COLUMNS if c != "model_probability"},
                "model_probability": (r.get("model_probabilities") or {}).get(
                    r.get("model_guess"), float("nan")
                ),
            }
            for r in records
        ]
    )[COLUMNS]
    rows = rows.sort_values(["created", "label_id"], kind="stable").reset_index(drop=True)
    key = rows["text"].map(normalize_for_grouping)
    grouped = rows["label"].map(normalize_label).groupby(key, sort=False)
    times, distinct = grouped.transform("size"), grouped.transform("nunique")
    rows = rows.assign(times_labelled=times.astype(int), conflict=distinct > 1)
    latest = rows[~key.duplicated(keep="last")].reset_index(drop=True)
    return latest, int(latest["conflict"].sum())


def read_labelled_set(registry: Registry) -> LabelledSet:
    """The labelled set, one row per text (see the module's docstring)."""
    records, stale = read_labels(registry)
    frame, conflicts = labelled_frame(records)
    return LabelledSet(frame, len(records), conflicts, labels_location(registry), stale)


def training_rows(labelled: LabelledSet) -> pd.DataFrame:
    """The labelled set as training rows: `text` and `label`, one per text, the label
    normalised as training reads labels (pipeline.data.normalize_label)."""
    rows = labelled.frame[TRAINING_COLUMNS].reset_index(drop=True)
    return rows.assign(label=rows["label"].map(normalize_label))


def labelled_csv(labelled: LabelledSet) -> bytes:
    """The labelled set as a CSV of `text,label`, for training (train.py --label-column
    label). Texts are written as given, not made formula-safe, as a corrected copy of a
    data file is: they are training data, and a changed text would be another text."""
    return training_rows(labelled).to_csv(index=False).encode("utf-8")


def rows_for_training(labelled: LabelledSet, classes: list[str]) -> tuple[pd.DataFrame, int]:
    """The labelled set's training rows whose label is one of the data's classes.

    Args:
        labelled: the labelled set.
        classes: the labels of the data trained on (LabelledData.labels).

    Returns:
        The rows (`text`, `label`), and how many were left out for a label the data lacks.

    Raises:
        DataError: the set is empty, or none of its labels is one of `classes`.
    """
    rows = training_rows(labelled)
    if rows.empty:
        raise DataError("The labelled set is empty: label some texts in the Label tab first.")
    known = rows["label"].isin(classes)
    if not known.any():
        raise DataError(
            f"None of the labelled set's labels ({', '.join(sorted(set(rows['label'])))}) is a "
            f"class of the data chosen ({', '.join(classes)}). Choose data with those classes."
        )
    return rows[known].reset_index(drop=True), int((~known).sum())
