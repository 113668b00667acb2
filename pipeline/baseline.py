"""The scikit-learn peer every neural model is compared with: TF-IDF + logistic regression."""

from collections.abc import Callable

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline, make_union

from pipeline.data import Splits
from pipeline.evaluate import evaluate_predictions
from pipeline.text import clean_text


def fit_tfidf_baseline(splits: Splits, labels: list[str]) -> Callable[[list[str]], np.ndarray]:
    """Fit word 1-2 gram TF-IDF + logistic regression on the training part.

    Args:
        splits: the leakage-free split.
        labels: the label order of the returned probability columns.

    Returns:
        A function mapping texts to probabilities, shape (n, len(labels)).
    """
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, preprocessor=clean_text),
        LogisticRegression(C=3, max_iter=2000),
    )
    model.fit(splits.train["text"], splits.train["label"])
    classes = list(model.classes_)
    columns = [classes.index(label) if label in classes else None for label in labels]

    def predict_proba(texts: list[str]) -> np.ndarray:
        probabilities = model.predict_proba(list(texts))
        return np.stack(
            [probabilities[:, c] if c is not None else np.zeros(len(texts)) for c in columns], 1
        )

    return predict_proba


def word_char_features() -> FeatureUnion:
    """Word 1-2 gram and character 2-5 gram TF-IDF of the cleaned text, side by side.

    The features of the strongest linear peer (bench/compare_models.py) and of the model
    whose out-of-fold probabilities find likely label errors (pipeline.analysis.label_issues).

    Returns:
        An unfitted scikit-learn transformer from raw texts to a sparse matrix.
    """
    return make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, preprocessor=clean_text),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=clean_text,
            min_df=2,
        ),
    )  # fmt: skip


def baseline_metrics(splits: Splits, labels: list[str]) -> dict:
    """The baseline's test metrics on the same split as the model it is compared with."""
    predict_proba = fit_tfidf_baseline(splits, labels)
    return evaluate_predictions(
        splits.test["label"].tolist(), predict_proba(splits.test["text"].tolist()), labels
    )
