"""Choosing the texts to label next (pipeline.active, `python -m pipeline pick`): each
strategy's definition, the spread over near-copies, exclusions, the cold start, the command."""

import json
import time

import numpy as np
import pandas as pd
import pytest
from conftest import shipped_version
from helpers import run_cli

from pipeline import config
from pipeline.__main__ import main
from pipeline.active import FROM_MODEL, FROM_RANDOM, FROM_SPREAD, pick_texts
from pipeline.active.strategies import (
    ENTROPY,
    MARGIN,
    MARGIN_KMEANS,
    RANDOM,
    STRATEGIES,
    entropies,
    margins,
    random_order,
    uncertainty_order,
)
from pipeline.cli import USER_ERROR_EXIT, run
from pipeline.errors import DataError
from pipeline.predict import Predictor
from pipeline.registry import Registry

LABELS = ["negative", "neutral", "positive"]


def fixed_predictor(probabilities: dict[str, list[float]]) -> Predictor:
    """A predictor whose model is a table: each text's probabilities, given by hand."""
    return Predictor(lambda texts: np.array([probabilities[t] for t in texts]), LABELS)


# --- each strategy's definition, on hand-made probabilities


PROBABILITIES = np.array(
    [
        [0.90, 0.05, 0.05],  # sure
        [0.50, 0.48, 0.02],  # torn between two: the smallest margin
        [0.36, 0.33, 0.31],  # torn between all three: the highest entropy
        [0.60, 0.30, 0.10],
    ]
)


def test_margin_is_the_gap_between_the_two_most_likely_classes_smallest_first():
    assert margins(PROBABILITIES) == pytest.approx([0.85, 0.02, 0.03, 0.30])
    order, scores = uncertainty_order(MARGIN, PROBABILITIES)
    assert order.tolist() == [1, 2, 3, 0]
    assert scores == pytest.approx(margins(PROBABILITIES))


def test_entropy_is_highest_first_and_differs_from_margin():
    expected = [-(p * np.log(p)).sum() for p in PROBABILITIES]
    assert entropies(PROBABILITIES) == pytest.approx(expected)
    order, _ = uncertainty_order(ENTROPY, PROBABILITIES)
    assert order.tolist() == [2, 3, 1, 0]
    # Margin puts first the near-tie of two classes, entropy the spread over three; and
    # entropy ranks row 3 (0.6/0.3/0.1) above row 1 (0.50/0.48/0.02), margin the reverse.
    assert uncertainty_order(MARGIN, PROBABILITIES)[0].tolist() == [1, 2, 3, 0]


def test_random_is_seeded_reproducible_and_depends_on_the_seed():
    first, draws = random_order(50, seed=3)
    again, _ = random_order(50, seed=3)
    other, _ = random_order(50, seed=4)
    assert first.tolist() == again.tolist() and first.tolist() != other.tolist()
    assert sorted(first.tolist()) == list(range(50)) and (np.diff(draws[first]) >= 0).all()
    pool = pd.DataFrame({"text": [f"tweet number {i}" for i in range(50)]})
    picked, summary = pick_texts(None, pool, "text", 10, RANDOM, seed=3)
    assert picked.index.tolist() == first[:10].tolist()
    assert summary.score_from == FROM_RANDOM
    assert pick_texts(None, pool, "text", 10, RANDOM, seed=3)[0].equals(picked)


def test_margin_and_entropy_pick_the_models_least_certain_texts_keeping_every_column():
    texts = ["sure", "two-way", "three-way", "fairly sure"]
    predictor = fixed_predictor(dict(zip(texts, PROBABILITIES.tolist(), strict=True)))
    pool = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": texts, "user": ["u"] * 4})
    picked, summary = pick_texts(predictor, pool, "text", 2, MARGIN)
    assert picked["text"].tolist() == ["two-way", "three-way"]
    assert picked["pick_rank"].tolist() == [1, 2]
    assert picked["pick_score"].tolist() == pytest.approx([0.02, 0.03])
    assert list(picked.columns[:3]) == ["id", "text", "user"]
    assert picked["pick_predicted_label"].tolist() == ["negative", "negative"]
    assert picked["pick_prob_neutral"].tolist() == pytest.approx([0.48, 0.33])
    assert summary.score_from == FROM_MODEL and not summary.cold_start
    picked, summary = pick_texts(predictor, pool, "text", 2, ENTROPY)
    assert picked["text"].tolist() == ["three-way", "fairly sure"]
    assert "entropy" in summary.score


# --- the spread: a pool of near-copies


GROUPS = [
    "the tax plan will crush middle class families",
    "that border wall idea is an expensive disaster",
    "great closing statement from the governor",
    "moderators asked unfair questions about emails",
]
EXTRAS = ["#gop", "#debate", "wow", "tonight", "really", "#tcot", "yes", "lol"]


def near_copy_pool() -> tuple[pd.DataFrame, Predictor]:
    """Four groups of eight near-copies, and a model least sure of every text of group 0."""
    rows, table = [], {}
    for group, base in enumerate(GROUPS):
        for variant, extra in enumerate(EXTRAS):
            text = f"{base} {extra}" if variant % 2 else f"{extra} {base}"
            # Group 0's margins are 0.00..0.07; every other text's are 0.30 or more.
            gap = 0.01 * variant if group == 0 else 0.30 + 0.01 * variant
            table[text] = [(1 + gap) / 2 - 0.005, (1 - gap) / 2 - 0.005, 0.01]
            rows.append({"group": group, "variant": variant, "text": text})
    return pd.DataFrame(rows), fixed_predictor(table)


def test_margin_alone_takes_a_batch_of_near_copies():
    pool, predictor = near_copy_pool()
    picked, _ = pick_texts(predictor, pool, "text", 4, MARGIN)
    assert picked["group"].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_margin_kmeans_takes_the_least_certain_text_of_each_group(seed):
    pool, predictor = near_copy_pool()
    picked, summary = pick_texts(predictor, pool, "text", 4, MARGIN_KMEANS, seed=seed)
    assert sorted(picked["group"]) == [0, 1, 2, 3]
    # The least certain text of each group, the least certain group first.
    assert picked["variant"].tolist() == [0, 0, 0, 0] and picked["group"].iloc[0] == 0
    assert picked["pick_cluster"].nunique() == 4 and summary.clusters == 4
    assert picked["pick_cluster_size"].tolist() == [8, 8, 8, 8]


@pytest.mark.parametrize("strategy", [MARGIN, ENTROPY, MARGIN_KMEANS])
def test_a_cold_start_spreads_over_the_groups_and_says_so(strategy):
    pool, _ = near_copy_pool()
    picked, summary = pick_texts(None, pool, "text", 4, strategy)
    assert sorted(picked["group"]) == [0, 1, 2, 3]
    assert summary.cold_start and summary.score_from == FROM_SPREAD
    assert summary.version is None and "centre" in summary.score
    assert not any(c.startswith("pick_prob") for c in picked.columns)
    assert "pick_predicted_label" not in picked.columns


def test_fewer_distinct_texts_than_asked_gives_them_all():
    pool, predictor = near_copy_pool()
    picked, summary = pick_texts(predictor, pool, "text", 100, MARGIN_KMEANS)
    assert len(picked) == 32 and summary.picked == 32 and summary.candidates == 32
    assert picked["pick_rank"].tolist() == list(range(1, 33))


# --- what is never picked


EXCLUSION_POOL = pd.DataFrame(
    {
        "id": list(range(8)),
        "text": [
            "Great debate tonight",
            "RT @fox: great debate tonight http://t.co/x1",  # a copy of a labelled text
            "GREAT   debate tonight https://t.co/y2",  # another
            "Awful night for Jeb",
            "awful night for JEB",  # a copy of the row above
            "",  # no text
            "Rubio was strong on foreign policy",
            "  ",
        ],
    }
)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("with_model", [True, False])
def test_labelled_texts_their_copies_and_repeats_are_never_picked(strategy, with_model):
    texts = EXCLUSION_POOL["text"].tolist()
    predictor = fixed_predictor({t: [0.4, 0.3, 0.3] for t in texts}) if with_model else None
    picked, summary = pick_texts(
        predictor, EXCLUSION_POOL, "text", 10, strategy,
        exclude=["RT @cnn: Great Debate tonight https://t.co/zz"],
    )  # fmt: skip
    assert sorted(picked["id"]) == [3, 6]
    assert (summary.rows_in_pool, summary.empty_texts, summary.excluded_as_labelled) == (8, 2, 3)
    assert (summary.duplicates_dropped, summary.candidates, summary.picked) == (1, 2, 2)


def test_a_pool_with_nothing_left_to_pick_says_why():
    with pytest.raises(DataError, match="No text of the pool is left to pick: of 3 rows"):
        pick_texts(
            None, EXCLUSION_POOL.head(3), "text", 5, RANDOM, exclude=["Great debate tonight"]
        )


def test_a_pool_that_already_has_the_pick_columns_is_refused():
    pool = pd.DataFrame({"text": ["a text"], "pick_rank": ["1"]})
    with pytest.raises(DataError, match="already has columns 'pick_rank'"):
        pick_texts(None, pool, "text", 1, RANDOM)


# --- the command


@pytest.fixture(scope="module")
def fasttext_models(tmp_path_factory):
    """A local registry holding the shipped fasttext version, active."""
    version = shipped_version("fasttext")
    registry = Registry(tmp_path_factory.mktemp("active") / "models")
    registry.copy_in(Registry(config.DEFAULT_MODELS_DIR), version)
    registry.promote(version)
    return registry.root


def pick(*args, capsys) -> tuple[int, str, str]:
    """`python -m pipeline pick ARGS` in this process: exit code, stdout, stderr."""
    code = run(main, ["pick", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_pick_on_the_sample_with_the_active_fasttext_version(fasttext_models, tmp_path):
    output = tmp_path / "picks.csv"
    result = run_cli(
        "-m", "pipeline", "pick", "--data", config.SAMPLE_DATA_PATH, "--n", "25",
        "--strategy", MARGIN_KMEANS, "--output", output, "--json", models_dir=fasttext_models,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["version"] == shipped_version("fasttext") and summary["picked"] == 25
    assert summary["score_from"] == FROM_MODEL and summary["strategy"] == MARGIN_KMEANS
    assert summary["text_column"] == "text" and summary["text_column_guessed"]
    assert summary["rows_in_pool"] == 700 and summary["duplicates_dropped"] > 0
    assert "picking from the texts of column 'text' of sample.csv (guessed" in result.stderr
    picked = pd.read_csv(output, keep_default_na=False)
    assert list(picked.columns[:2]) == ["text", "sentiment"]
    assert {"pick_rank", "pick_score", "pick_cluster", "pick_predicted_label"} <= set(picked)
    assert {f"pick_prob_{label}" for label in LABELS} <= set(picked)
    assert picked["pick_cluster"].nunique() == 25 and picked["text"].is_unique
    assert picked["pick_score"].is_monotonic_increasing


def test_pick_cold_start_says_so_and_leaves_out_the_labelled_texts(tmp_path, capsys):
    sample = pd.read_csv(config.SAMPLE_DATA_PATH)
    labelled = tmp_path / "labelled.csv"
    sample.head(300).to_csv(labelled, index=False)
    output = tmp_path / "picks.csv"
    code, out, err = pick(
        "--data", config.SAMPLE_DATA_PATH, "--labelled", labelled, "--n", 20,
        "--strategy", MARGIN, "--version", "none", "--output", output, "--json", capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["cold_start"] and summary["score_from"] == FROM_SPREAD
    assert summary["excluded_as_labelled"] >= 300 and summary["picked"] == 20
    assert "cold start (no model): margin falls back to the k-means spread" in err
    picked = pd.read_csv(output)
    assert not set(picked["text"]) & set(sample.head(300)["text"])
    assert "pick_predicted_label" not in picked


def test_pick_writes_formula_safe_csv_from_a_named_column(fasttext_models, tmp_path, capsys):
    pool = tmp_path / "pool.csv"
    pd.DataFrame(
        {"id": ["1", "2", "3"], "tweet": ['=HYPERLINK("x")', "@cnn what a night", "ok then"]}
    ).to_csv(pool, index=False)
    output = tmp_path / "picks.csv"
    code, out, err = pick(
        "--data", pool, "--text-column", "tweet", "--n", 3, "--strategy", RANDOM, "--seed", 7,
        "--output", output, "--models-dir", fasttext_models, capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "picked 3 of 3 candidate texts by random (scores from random draw)" in out
    assert "guessed" not in err + out
    picked = pd.read_csv(output, dtype=str)
    assert set(picked["tweet"]) == {'\'=HYPERLINK("x")', "'@cnn what a night", "ok then"}
    assert "pick_predicted_label" in picked  # the model's guesses, even for random picks


def test_pick_works_on_an_object_store_registry(tmp_path, capsys, fasttext_models):
    version = shipped_version("fasttext")
    url = f"memory://active-{time.time_ns()}"
    Registry(url).copy_in(Registry(config.DEFAULT_MODELS_DIR), version)
    picks = {}
    for models in (url, fasttext_models):
        output = tmp_path / f"picks-{len(picks)}.csv"
        code, _, err = pick(
            "--data", config.SAMPLE_DATA_PATH, "--n", 10, "--strategy", ENTROPY,
            "--version", version, "--output", output, "--models-dir", models, capsys=capsys,
        )  # fmt: skip
        assert code == 0, err
        picks[str(models)] = pd.read_csv(output)
    remote, local = picks.values()
    assert len(remote) == 10 and remote.equals(local)


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("pool_text", "extra", "fragment"),
    [
        ("text\n", [], "pool.csv has a header but no rows."),
        ("", [], "pool.csv is empty."),
        ("id,score\n1,2\n3,4\n", [], "pool.csv has no column of texts"),
        ("text\nhello there\n", ["--text-column", "tweet"], "pool.csv has no column 'tweet'"),
        (
            "text\nhello there\n",
            ["--n", "0", "--text-column", "text"],
            "--n must be at least 1; got 0.",
        ),
        (
            "text\nhello there\n",
            ["--version", "v0", "--text-column", "text"],
            "Unknown model version 'v0'",
        ),
        (
            "text\nhello there\n",
            ["--labelled", "{pool}", "--text-column", "text"],
            "No text of the pool is left",
        ),
        (
            "text\nhello there\n",
            ["--output", "{pool}", "--text-column", "text"],
            "would overwrite pool.csv",
        ),
    ],
)
def test_pick_bad_input_exits_2_with_one_line(
    fasttext_models, tmp_path, capsys, pool_text, extra, fragment
):
    pool = write(tmp_path / "pool.csv", pool_text)
    extra = [arg.format(pool=pool) for arg in extra]
    code, out, err = pick(
        "--data", pool, "--output", tmp_path / "picks.csv", "--models-dir", fasttext_models,
        *extra, capsys=capsys,
    )  # fmt: skip
    assert code == USER_ERROR_EXIT, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], err
    assert not (tmp_path / "picks.csv").exists()


def test_pick_without_any_model_points_to_the_cold_start(tmp_path, capsys):
    pool = write(tmp_path / "pool.csv", "text\nhello there\n")
    code, _, err = pick(
        "--data", pool, "--output", tmp_path / "picks.csv", "--models-dir", tmp_path / "none",
        capsys=capsys,
    )  # fmt: skip
    assert code == USER_ERROR_EXIT
    assert "No model in" in err and "To pick without a model, give --version none." in err
