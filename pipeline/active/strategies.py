"""The strategies' arithmetic: uncertainty scores, a seeded random order, and the k-means
spread (one pick per cluster).

The k-means representation is a word TF-IDF matrix of the normalised texts
(pipeline.text.normalize_for_grouping), not the version's own embeddings, because:
- it exists without a model, so a cold start and a warm one cluster alike;
- it is the same for every recipe (a fasttext version has no sentence embedding to offer,
  and a transformer's would mean running the encoder over the pool a second time);
- it is cheap: a second or two for GOP's 10,000 distinct tweets and 100 clusters, where
  character 3-5-grams (58,000 columns) took 30 s on the same 2-core machine;
- what the spread must keep apart is near-copies (a retweet cut short, another tag), and
  those share their words.
"""

import warnings

import numpy as np

RANDOM, MARGIN, ENTROPY, MARGIN_KMEANS = "random", "margin", "entropy", "margin-kmeans"
STRATEGIES = (RANDOM, MARGIN, ENTROPY, MARGIN_KMEANS)
# The k-means representation: the most frequent words of the pool, so the centres stay
# small (n clusters x this many floats) however large the pool.
TFIDF_MAX_WORDS = 5_000


def margins(probabilities: np.ndarray) -> np.ndarray:
    """The gap between each row's two largest probabilities; small means unsure.

    Args:
        probabilities: shape (n, classes), classes >= 2.

    Returns:
        Shape (n,), in [0, 1].
    """
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def entropies(probabilities: np.ndarray) -> np.ndarray:
    """The entropy of each row's probabilities, in nats; large means unsure.

    Args:
        probabilities: shape (n, classes).

    Returns:
        Shape (n,), from 0 to log(classes).
    """
    from scipy.stats import entropy

    return entropy(probabilities, axis=1)


def uncertainty_order(strategy: str, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows most worth labelling first, by `margin` or `entropy`.

    Args:
        strategy: MARGIN or ENTROPY.
        probabilities: shape (n, classes).

    Returns:
        The row order (most uncertain first; ties keep the rows' order) and every row's score.
    """
    if strategy == ENTROPY:
        scores = entropies(probabilities)
        return np.argsort(-scores, kind="stable"), scores
    scores = margins(probabilities)
    return np.argsort(scores, kind="stable"), scores


def random_order(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random order of `count` rows: a uniform draw each, lowest first.

    Returns:
        The row order and every row's draw.
    """
    draws = np.random.default_rng(seed).random(count)
    return np.argsort(draws, kind="stable"), draws


def text_vectors(texts: list[str]):
    """The k-means representation (see the module's docstring): word TF-IDF, rows of norm 1.

    Args:
        texts: normalised texts.

    Returns:
        A sparse float32 matrix, one row per text; all zeros when no text has a word.
    """
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=TFIDF_MAX_WORDS, dtype=np.float32)
    try:
        return vectorizer.fit_transform(texts)
    except ValueError:  # an empty vocabulary: no text has a word of two letters
        return csr_matrix((len(texts), 1), dtype=np.float32)


def cluster(vectors, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the rows of `vectors` (scikit-learn's KMeans, seeded).

    Args:
        vectors: one row per text (see `text_vectors`).
        clusters: how many clusters; at most the number of rows.
        seed: the random state of the initialisation.

    Returns:
        Each row's cluster and its distance to that cluster's centre.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    if clusters >= vectors.shape[0]:  # every text is picked: each its own cluster
        return np.arange(vectors.shape[0]), np.zeros(vectors.shape[0])
    with warnings.catch_warnings():
        # Fewer distinct texts than clusters leaves some empty; `spread_order` fills up.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=clusters, n_init=1, random_state=seed).fit(vectors)
    distances = model.transform(vectors)[np.arange(vectors.shape[0]), model.labels_]
    return model.labels_, distances


def spread_order(
    assignment: np.ndarray, preference: np.ndarray, count: int, cluster_first: np.ndarray
) -> np.ndarray:
    """One row per cluster, the most preferred of each, then others to make up `count`.

    Args:
        assignment: each row's cluster.
        preference: each row's rank key; smaller is picked first within a cluster.
        count: how many rows to return (at most the number of rows).
        cluster_first: each row's key for ordering the picks; smaller comes first.

    Returns:
        `count` row positions: each non-empty cluster's best row (ordered by
        `cluster_first`), then, if clusters were fewer than `count`, the best of the rest.
    """
    by_preference = np.lexsort((np.arange(len(preference)), preference))
    _, first = np.unique(assignment[by_preference], return_index=True)
    chosen = by_preference[first]
    chosen = chosen[np.argsort(cluster_first[chosen], kind="stable")]
    rest = by_preference[~np.isin(by_preference, chosen)]
    return np.concatenate([chosen, rest])[:count]
