"""Active learning: which texts of an unlabelled pool to label next.

`pick_texts` takes a loaded predictor (or None for a cold start), the pool as a frame, its
text column, how many texts to pick, a strategy and the texts already labelled. It returns
the picked rows, every original column kept, with the score that chose them, and a
`PickSummary` of what it did. The command line (`python -m pipeline pick`) and a Label
view call the same function.

Strategies (STRATEGIES):
- `random`: a seeded uniform draw; the baseline every other strategy must beat.
- `margin`: the smallest gap between the two most likely classes (the model hesitates
  between two labels).
- `entropy`: the highest entropy of the class probabilities (the model is unsure across
  all labels).
- `margin-kmeans`: the pool is clustered into as many clusters as texts wanted, and the
  smallest-margin text of each cluster is picked, so a batch is spread over the pool
  rather than a hundred copies of one hard tweet.

Cold start: without a model, `margin`, `entropy` and `margin-kmeans` fall back to the
k-means spread alone (the text nearest each cluster's centre, largest clusters first), and
the summary says so (`score_from`, `cold_start`). `random` needs no model.

Texts already labelled, and copies of them, are never picked; copies within the pool are
picked at most once. Copies are texts equal after `pipeline.text.normalize_for_grouping`
(case, a leading "RT @user:", links and spacing aside), the key the leakage-free split
groups by.

The arithmetic of each strategy is in `strategies`; reading and writing the CSV files in
`files`.
"""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pipeline.active.strategies import (
    ENTROPY,
    MARGIN,
    MARGIN_KMEANS,
    RANDOM,
    STRATEGIES,
    cluster,
    random_order,
    spread_order,
    text_vectors,
    uncertainty_order,
)
from pipeline.csvfile import check_text_column
from pipeline.errors import DataError
from pipeline.predict import PROGRESS_STEP, Predictor
from pipeline.text import normalize_for_grouping

# The strategy that won bench/active_learning.py (chosen on validation, above random on the
# test part of both data sets); see docs/benchmarks.md.
DEFAULT_STRATEGY = ENTROPY
# The version name that means "no model": a cold start (`pick --version none`).
COLD_START = "none"
# Where the scores came from (PickSummary.score_from).
FROM_MODEL = "model"
FROM_SPREAD = "k-means spread (cold start: no model)"
FROM_RANDOM = "random draw"
# What `pick_score` is, for each way of picking.
SCORE_MEANING = {
    MARGIN: "margin between the two most likely classes (smallest first)",
    ENTROPY: "entropy of the class probabilities, in nats (highest first)",
    RANDOM: "a uniform random draw (lowest first)",
    FROM_SPREAD: "distance to the centre of its cluster (nearest; largest clusters first)",
}
# What each strategy picks, in a sentence for a chooser's help.
STRATEGY_HELP = {
    ENTROPY: "The default, and the recommended one: it won the simulated labelling loop "
    "(bench/active_learning.py) on both tweet sets. The texts whose probabilities are the "
    "most spread out: where the model is unsure across every label.",
    MARGIN_KMEANS: "The pool in N clusters of similar texts and, from each, the one the model "
    "hesitates most on between two labels: a batch that covers the pool rather than many "
    "near-copies of one hard text.",
    MARGIN: "The texts whose two most likely labels are closest: where the model hesitates "
    "between two labels. Picks can be near-copies of one another.",
    RANDOM: "A seeded random draw: the baseline the others have to beat, and an unbiased "
    "sample of the pool.",
}
# The columns added to the picked rows; the model's guesses add PREFIX + "predicted_label"
# and PREFIX + "prob_<label>".
PREFIX = "pick_"
RANK, SCORE, CLUSTER, CLUSTER_SIZE = (
    PREFIX + n for n in ("rank", "score", "cluster", "cluster_size")
)


@dataclass(frozen=True)
class PickSummary:
    """What `pick_texts` did, for a message or a JSON summary.

    rows_in_pool counts every row given; empty_texts, excluded_as_labelled and
    duplicates_dropped the rows left out, in that order; candidates the rows left to pick
    from; picked the rows returned. clusters is the number of k-means clusters, None when
    the strategy used none.
    """

    strategy: str
    score_from: str
    score: str
    cold_start: bool
    version: str | None
    text_column: str
    seed: int
    rows_in_pool: int
    empty_texts: int
    excluded_as_labelled: int
    duplicates_dropped: int
    candidates: int
    picked: int
    clusters: int | None

    def as_dict(self) -> dict:
        """The summary as a JSON-ready dict."""
        return asdict(self)


def candidate_rows(
    texts: pd.Series, exclude: Iterable[str]
) -> tuple[np.ndarray, pd.Series, dict[str, int]]:
    """The pool's rows that may be picked: with a text, not labelled, first of their copies.

    Args:
        texts: the pool's text column.
        exclude: texts already labelled.

    Returns:
        The candidates' positions in the pool, their normalised texts, and the counts of
        rows left out: "empty_texts", "excluded_as_labelled", "duplicates_dropped".
    """
    texts = texts.fillna("").astype(str)
    keys = texts.map(normalize_for_grouping)
    labelled = {normalize_for_grouping(str(text)) for text in exclude}
    empty = texts.str.strip() == ""
    known = ~empty & keys.isin(labelled)
    copy = ~empty & ~known & keys.duplicated()
    keep = ~(empty | known | copy)
    counts = {
        "empty_texts": int(empty.sum()),
        "excluded_as_labelled": int(known.sum()),
        "duplicates_dropped": int(copy.sum()),
    }
    return np.flatnonzero(keep.to_numpy()), keys[keep].reset_index(drop=True), counts


def score_texts(
    predictor: Predictor,
    texts: list[str],
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The predictor's probabilities for texts, in steps that report progress.

    Args:
        predictor: a loaded predictor.
        texts: raw texts.
        on_progress: called with (texts scored, total) after each step.

    Returns:
        Shape (len(texts), len(predictor.labels)).
    """
    parts = [np.zeros((0, len(predictor.labels)), dtype=np.float32)]
    for start in range(0, len(texts), PROGRESS_STEP):
        parts.append(predictor.predict_proba(texts[start : start + PROGRESS_STEP]))
        if on_progress:
            on_progress(min(start + PROGRESS_STEP, len(texts)), len(texts))
    return np.concatenate(parts)


def check_pick_request(pool: pd.DataFrame, text_column: str, n: int, strategy: str) -> None:
    """Refuse a request `pick_texts` cannot serve, with a message a person can act on.

    Raises:
        DataError: n below 1, an unknown strategy, a missing, empty or numeric text column,
            or a pool that already has columns named like the ones picking adds.
    """
    if n < 1:
        raise DataError(f"The number of texts to pick must be at least 1; got {n}.")
    if strategy not in STRATEGIES:
        raise DataError(f"Unknown strategy {strategy!r}. Choose one of: {', '.join(STRATEGIES)}.")
    if pool.empty:
        raise DataError("The pool has no rows to pick from.")
    check_text_column(pool, text_column, "The pool")
    taken = [str(c) for c in pool.columns if str(c).startswith(PREFIX)]
    if taken:
        raise DataError(
            f"The pool already has columns {', '.join(map(repr, taken))}, which picking adds "
            f"(is it an earlier pick's output?). Rename or drop the columns starting {PREFIX!r}."
        )


@dataclass(frozen=True)
class Choice:
    """The picks of one strategy, before they become rows.

    order: candidate positions in the order to label them; scores: every candidate's
    score; probabilities: the model's, for the picked texts in order (None without a
    model); columns: extra columns, one value per candidate; clusters: k-means clusters.
    """

    order: np.ndarray
    scores: np.ndarray
    score_from: str
    score: str
    probabilities: np.ndarray | None = None
    columns: dict | None = None
    clusters: int | None = None


def choose_random(predictor, texts, count, seed, on_progress) -> Choice:
    """`random`: a seeded draw; a model, if given, only adds its guesses for the picks."""
    order, draws = random_order(len(texts), seed)
    order = order[:count]
    probabilities = None
    if predictor is not None:
        probabilities = score_texts(predictor, [texts[i] for i in order], on_progress)
    return Choice(order, draws, FROM_RANDOM, SCORE_MEANING[RANDOM], probabilities)


def choose_spread(keys: list[str], count: int, seed: int) -> Choice:
    """The cold start: the text nearest each cluster's centre, largest clusters first."""
    assignment, distances = cluster(text_vectors(keys), count, seed)
    sizes = np.bincount(assignment, minlength=count)[assignment]
    order = spread_order(assignment, distances, count, -sizes)
    columns = {CLUSTER: assignment, CLUSTER_SIZE: sizes}
    return Choice(order, distances, FROM_SPREAD, SCORE_MEANING[FROM_SPREAD], None, columns, count)


def choose_uncertain(predictor, texts, keys, count, strategy, seed, on_progress) -> Choice:
    """`margin`, `entropy` and `margin-kmeans` with a model: its most uncertain texts."""
    probabilities = score_texts(predictor, texts, on_progress)
    by = ENTROPY if strategy == ENTROPY else MARGIN
    order, scores = uncertainty_order(by, probabilities)
    if strategy != MARGIN_KMEANS:
        order = order[:count]
        return Choice(order, scores, FROM_MODEL, SCORE_MEANING[by], probabilities[order])
    assignment, _ = cluster(text_vectors(keys), count, seed)
    sizes = np.bincount(assignment, minlength=count)[assignment]
    order = spread_order(assignment, scores, count, scores)
    columns = {CLUSTER: assignment, CLUSTER_SIZE: sizes}
    return Choice(
        order, scores, FROM_MODEL, SCORE_MEANING[by], probabilities[order], columns, count
    )


def pick_texts(
    predictor: Predictor | None,
    pool: pd.DataFrame,
    text_column: str,
    n: int,
    strategy: str = DEFAULT_STRATEGY,
    exclude: Iterable[str] = (),
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, PickSummary]:
    """Choose the texts of a pool to label next.

    Args:
        predictor: the model whose uncertainty chooses; None for a cold start.
        pool: the unlabelled rows.
        text_column: the pool's column of texts.
        n: how many texts to pick (fewer when fewer are left).
        strategy: one of STRATEGIES (see the module's docstring).
        exclude: texts already labelled; they and their copies are never picked.
        seed: the random state of `random` and of k-means.
        on_progress: called with (texts scored, total) while the model scores the pool.

    Returns:
        The picked rows in the order to label them, with the pool's index and every column,
        plus `pick_rank` (1 first), `pick_score` (see `PickSummary.score`), for the k-means
        strategies `pick_cluster` and `pick_cluster_size`, and with a model
        `pick_predicted_label` and `pick_prob_<label>`; and the summary.

    Raises:
        DataError: see `check_pick_request`; or no text is left once the labelled texts and
            the copies are left out.
    """
    check_pick_request(pool, text_column, n, strategy)
    positions, keys, counts = candidate_rows(pool[text_column], exclude)
    if len(positions) == 0:
        raise DataError(
            f"No text of the pool is left to pick: of {len(pool):,} rows, "
            f"{counts['empty_texts']:,} are empty, {counts['excluded_as_labelled']:,} already "
            f"labelled (or copies of labelled texts), {counts['duplicates_dropped']:,} copies."
        )
    texts = pool[text_column].iloc[positions].astype(str).tolist()
    count = min(n, len(positions))
    if strategy == RANDOM:
        choice = choose_random(predictor, texts, count, seed, on_progress)
    elif predictor is None:
        choice = choose_spread(keys.tolist(), count, seed)
    else:
        choice = choose_uncertain(
            predictor, texts, keys.tolist(), count, strategy, seed, on_progress
        )
    picked = pool.iloc[positions[choice.order]].copy()
    picked[RANK] = np.arange(1, count + 1)
    picked[SCORE] = np.round(choice.scores[choice.order].astype(float), 6)
    for column, values in (choice.columns or {}).items():
        picked[column] = values[choice.order]
    if choice.probabilities is not None:
        labels = predictor.labels
        picked[PREFIX + "predicted_label"] = [labels[i] for i in choice.probabilities.argmax(1)]
        for i, label in enumerate(labels):
            picked[f"{PREFIX}prob_{label}"] = np.round(choice.probabilities[:, i].astype(float), 6)
    summary = PickSummary(
        strategy=strategy,
        score_from=choice.score_from,
        score=choice.score,
        cold_start=predictor is None,
        version=None if predictor is None else predictor.version,
        text_column=text_column,
        seed=seed,
        rows_in_pool=len(pool),
        **counts,
        candidates=len(positions),
        picked=count,
        clusters=choice.clusters,
    )
    return picked, summary
