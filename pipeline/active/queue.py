"""A labelling queue: the picked texts of a pool, labelled one at a time, with skip and undo.

The Label view keeps one per browser session. Each label is saved into the labelled set
at once (pipeline.labelled.save_label); the queue only remembers where the annotator is and
what they did, so undo can step back. Texts that someone else labelled since the pick
(another annotator on the same pool) are passed over, and counted apart.
"""

from dataclasses import dataclass, field

import pandas as pd

from pipeline.active import PREFIX, PickSummary
from pipeline.labelled import save_label, undo_label
from pipeline.registry import Registry
from pipeline.text import normalize_for_grouping

SKIPPED = None  # a step's label id when the text was skipped


@dataclass
class Step:
    """One thing the annotator did: labelled the text at `position` (`label_id`), or
    skipped it (label_id None)."""

    position: int
    label_id: str | None


@dataclass
class Progress:
    """Where a queue stands: `done` of `total` texts passed, of which `labelled` and
    `skipped` by this annotator and `by_others` labelled by someone else meanwhile."""

    done: int
    total: int
    labelled: int
    skipped: int
    by_others: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


@dataclass
class LabelQueue:
    """The texts to label, in order, and the annotator's steps through them.

    Attributes:
        texts: the picked texts, in the order to label them.
        probabilities: the model's probability of each class for each text (`labels`
            order), or None without a model.
        labels: the classes to choose from.
        pool: the pool's name; pool_sha256: its SHA-256.
        summary: what picking did.
        position: the text shown now (len(texts) once every text is passed).
        steps: what the annotator did, in order.
        passed: positions passed over because someone else labelled them.
    """

    texts: list[str]
    probabilities: list[list[float]] | None
    labels: list[str]
    pool: str
    pool_sha256: str
    summary: PickSummary
    position: int = 0
    steps: list[Step] = field(default_factory=list)
    passed: set[int] = field(default_factory=set)

    @classmethod
    def from_picks(
        cls,
        picked: pd.DataFrame,
        summary: PickSummary,
        labels: list[str],
        pool: str,
        pool_sha256: str,
    ) -> "LabelQueue":
        """A queue over `pick_texts`'s rows.

        Args:
            picked: the picked rows, in order, with the model's `pick_prob_<label>` columns
                when a model picked.
            summary: their PickSummary.
            labels: the classes to choose from (the model's).
            pool: the pool's name; pool_sha256: its SHA-256.
        """
        columns = [f"{PREFIX}prob_{label}" for label in labels]
        probabilities = None
        if all(column in picked.columns for column in columns):
            probabilities = picked[columns].astype(float).to_numpy().tolist()
        texts = picked[summary.text_column].astype(str).tolist()
        return cls(texts, probabilities, list(labels), pool, pool_sha256, summary)

    @property
    def current(self) -> str | None:
        """The text to label now, or None when every text is passed."""
        return self.texts[self.position] if self.position < len(self.texts) else None

    def guess(self) -> dict[str, float] | None:
        """The model's probability of each class for the text shown now, or None."""
        if self.probabilities is None or self.current is None:
            return None
        return dict(zip(self.labels, self.probabilities[self.position], strict=True))

    def pass_labelled(self, labelled_texts) -> None:
        """Pass over the texts someone else labelled since the pick (copies included).

        Args:
            labelled_texts: every text of the labelled set now.
        """
        keys = {normalize_for_grouping(str(text)) for text in labelled_texts}
        while self.current is not None and normalize_for_grouping(self.current) in keys:
            self.passed.add(self.position)
            self.position += 1

    def give(self, registry: Registry, label: str, annotator: str) -> dict:
        """Save `label` for the text shown now and move to the next.

        Returns:
            The saved record (pipeline.labelled.save_label).
        """
        guess = self.guess()
        record = save_label(
            registry, self.current, label, annotator, self.pool, self.pool_sha256,
            self.summary.version if guess else None, guess,
        )  # fmt: skip
        self.steps.append(Step(self.position, record["label_id"]))
        self.position += 1
        return record

    def skip(self) -> None:
        """Leave the text shown now unlabelled and move to the next."""
        self.steps.append(Step(self.position, SKIPPED))
        self.position += 1

    def undo(self, registry: Registry, annotator: str) -> Step | None:
        """Step back to the last text this annotator labelled or skipped; a label is
        removed from the labelled set (only this annotator's own).

        Returns:
            The step undone, or None when there is nothing to undo.
        """
        if not self.steps:
            return None
        step = self.steps[-1]
        if step.label_id is not SKIPPED:
            undo_label(registry, annotator, step.label_id)
        self.steps.pop()
        self.passed = {p for p in self.passed if p < step.position}
        self.position = step.position
        return step

    def progress(self) -> Progress:
        """How far the annotator is."""
        labelled = sum(step.label_id is not SKIPPED for step in self.steps)
        return Progress(
            done=self.position,
            total=len(self.texts),
            labelled=labelled,
            skipped=len(self.steps) - labelled,
            by_others=len(self.passed),
        )
