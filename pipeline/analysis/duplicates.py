"""Duplicate and near-duplicate texts with conflicting labels.

Two rows are duplicates when their texts are equal after `normalize_for_grouping` (case,
a leading "RT @user:", links and spacing aside), and near duplicates when the character
n-gram TF-IDF vectors of those normalised texts have a cosine similarity of at least
config.NEAR_DUPLICATE_SIMILARITY (a retweet cut short with "…", a tag or handle added).
Groups are the connected parts of that "is a (near) duplicate of" relation; only groups
whose rows carry more than one label are reported: annotators disagreed on one tweet.
"""

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.analysis.tablecache import cached_table
from pipeline.data import LabelledData
from pipeline.text import normalize_for_grouping

# Character n-grams within word boundaries: robust to a cut-off last word or a changed tag.
NGRAM_RANGE = (3, 5)
SAME_TEXT, NEAR = "same text", "near"
DUPLICATE_COLUMNS = ["group", "kind", "row", "text", "label"]
DUPLICATE_DTYPES = {"group": "int64", "kind": str, "row": "int64", "text": str, "label": str}


def group_near_duplicates(
    keys: pd.Series, similarity: float = config.NEAR_DUPLICATE_SIMILARITY
) -> np.ndarray:
    """A group number for each distinct normalised text; near duplicates share one.

    Args:
        keys: distinct normalised texts.
        similarity: the cosine similarity from which two texts are near duplicates.

    Returns:
        One group number per key (0..groups-1).
    """
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    if len(keys) < 2:
        return np.zeros(len(keys), dtype="int64")
    try:
        vectors = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True
        ).fit_transform(keys)
    except ValueError:  # no n-gram at all (every text empty once normalised): none is near
        return np.arange(len(keys), dtype="int64")
    neighbours = NearestNeighbors(radius=1.0 - similarity, metric="cosine").fit(vectors)
    graph = neighbours.radius_neighbors_graph(vectors, mode="connectivity")
    _, groups = connected_components(graph, directed=False)
    return groups


def find_conflicting_duplicates(
    frame: pd.DataFrame, similarity: float = config.NEAR_DUPLICATE_SIMILARITY
) -> pd.DataFrame:
    """Groups of duplicate or near-duplicate texts that carry different labels.

    Args:
        frame: rows with `text` and `label`.
        similarity: the cosine similarity from which two texts are near duplicates.

    Returns:
        One row per text of a conflicting group (DUPLICATE_COLUMNS): the group (1 is the
        largest), its kind (SAME_TEXT when every text is equal after normalisation, else
        NEAR), the row's position in `frame`, its text and label.
    """
    keys = frame["text"].map(normalize_for_grouping)
    distinct = pd.Series(keys.unique())
    group_of_key = dict(zip(distinct, group_near_duplicates(distinct, similarity), strict=True))
    rows = pd.DataFrame(
        {
            "group": keys.map(group_of_key).to_numpy(),
            "key": keys.to_numpy(),
            "row": np.arange(len(frame), dtype="int64"),
            "text": frame["text"].to_numpy(),
            "label": frame["label"].to_numpy(),
        }
    )
    by_group = rows.groupby("group")
    conflicting = rows[by_group["label"].transform("nunique") > 1].copy()
    if conflicting.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DUPLICATE_DTYPES.items()})
    grouped = conflicting.groupby("group")
    conflicting["kind"] = np.where(grouped["key"].transform("nunique") == 1, SAME_TEXT, NEAR)
    conflicting["size"] = grouped["row"].transform("size")
    conflicting["first"] = grouped["row"].transform("min")
    conflicting = conflicting.sort_values(["size", "first", "label", "row"], ascending=[0, 1, 1, 1])
    conflicting["group"] = pd.factorize(conflicting["group"])[0] + 1
    return conflicting[DUPLICATE_COLUMNS].reset_index(drop=True)


def summarize_duplicates(groups: pd.DataFrame) -> dict:
    """Counts of a `find_conflicting_duplicates` table.

    Args:
        groups: its result.

    Returns:
        {"groups", "same_text_groups", "near_groups", "texts" (distinct), "rows"}.
    """
    kinds = groups.drop_duplicates("group")["kind"]
    return {
        "groups": int(groups["group"].nunique()),
        "same_text_groups": int((kinds == SAME_TEXT).sum()),
        "near_groups": int((kinds == NEAR).sum()),
        "texts": int(groups["text"].map(normalize_for_grouping).nunique()),
        "rows": len(groups),
    }


def describe_groups(groups: pd.DataFrame, rows_shown: int = 20) -> pd.DataFrame:
    """One line per conflicting group, for a table a person can scan.

    Args:
        groups: a `find_conflicting_duplicates` table.
        rows_shown: row positions listed per group before "…".

    Returns:
        group, kind, rows (how many), labels (each with its count, most common first),
        text (the group's most common text) and positions (the rows, comma-separated).
    """

    def describe(rows: pd.DataFrame) -> pd.Series:
        counts = rows["label"].value_counts()
        positions = ", ".join(map(str, rows["row"].head(rows_shown)))
        return pd.Series(
            {
                "kind": rows["kind"].iloc[0],
                "rows": len(rows),
                "labels": ", ".join(f"{label} {n}" for label, n in counts.items()),
                "text": rows["text"].mode().iloc[0],
                "positions": positions + (", …" if len(rows) > rows_shown else ""),
            }
        )

    if groups.empty:
        return pd.DataFrame(columns=["group", "kind", "rows", "labels", "text", "positions"])
    return groups.groupby("group", sort=True)[groups.columns].apply(describe).reset_index()


def cached_conflicting_duplicates(
    data: LabelledData, similarity: float = config.NEAR_DUPLICATE_SIMILARITY
) -> pd.DataFrame:
    """`find_conflicting_duplicates` for a loaded data file, computed once and cached on disk.

    Args:
        data: validated data; `row` is a position in `data.frame`.
        similarity: the cosine similarity from which two texts are near duplicates.

    Returns:
        The conflicting groups (see `find_conflicting_duplicates`).
    """
    import sklearn

    settings = {
        "data_sha256": data.sha256,
        "text_column": data.text_column,
        "label_column": data.label_column,
        "similarity": similarity,
        "ngram_range": NGRAM_RANGE,
        "scikit-learn": sklearn.__version__,
    }
    return cached_table(
        "duplicates",
        settings,
        lambda: find_conflicting_duplicates(data.frame, similarity),
        DUPLICATE_DTYPES,
    )
