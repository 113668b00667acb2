"""Scoring helpers: each distinct tweet counted once."""

import numpy as np
import pandas as pd

from pipeline.evaluate import accuracy_and_macro_f1, each_text_once, evaluate_predictions


def test_copies_of_a_tweet_count_once_with_their_majority_label():
    texts = pd.Series(
        ["RT @fan: Battery died http://t.co/a", "battery died", "Battery  died", "Love it", "meh"]
    )
    y_true = ["negative", "negative", "positive", "positive", "neutral"]
    probabilities = np.array(
        [[0.9, 0.1, 0.0], [0.7, 0.3, 0.0], [0.8, 0.2, 0.0], [0.1, 0.0, 0.9], [0.2, 0.7, 0.1]]
    )
    labels, grouped = each_text_once(texts, y_true, probabilities)
    assert labels == ["negative", "positive", "neutral"]
    np.testing.assert_allclose(grouped[0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(grouped[1:], probabilities[3:])
    # Row by row the copy labelled otherwise is a miss; counted once, the tweet takes the
    # label most of its copies have.
    order = ["negative", "neutral", "positive"]
    assert evaluate_predictions(y_true, probabilities, order)["accuracy"] == 0.8
    assert evaluate_predictions(labels, grouped, order)["accuracy"] == 1.0


def test_a_tie_between_labels_goes_to_the_alphabetically_first():
    labels, _ = each_text_once(pd.Series(["same", "same"]), ["b", "a"], np.eye(2))
    assert labels == ["a"]


def test_both_ways_of_scoring_come_together():
    texts = pd.Series(["same", "same", "same", "other"])
    y_true = ["a", "a", "a", "b"]
    probabilities = np.array([[1.0, 0.0]] * 3 + [[1.0, 0.0]])  # everything called "a"
    by_row, by_text = accuracy_and_macro_f1(texts, y_true, probabilities, ["a", "b"])
    assert by_row[0] == 0.75
    assert by_text[0] == 0.5  # two tweets, one of them right
    assert by_text[1] == evaluate_predictions(["a", "b"], np.eye(2)[[0, 0]], ["a", "b"])["macro_f1"]
