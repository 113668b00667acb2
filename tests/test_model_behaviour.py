"""Behavioural tests of the shipped models (models/): the `minilm+fasttext` default and the
`fasttext` fast path each pass every one."""

import numpy as np
import pytest

from pipeline import config, load_predictor
from pipeline.registry import Registry

CANDIDATES = [
    "Trump", "Bush", "Walker", "Huckabee", "Carson", "Cruz", "Rubio", "Paul", "Christie",
    "Kasich", "Fiorina",
]  # fmt: skip
INVARIANCE_TEMPLATES = [
    "{} was terrible tonight, what a disaster",
    "{} had a great night, best answers of the debate",
    "{} will speak about taxes next",
    "Watching {} answer the question on immigration",
    "Can't stand listening to {} anymore #GOPDebate",
    "So proud of {} tonight, what a performance!",
    "{} is a liar and a fraud",
    "{} looked weak and lost",
    "RT @user: {}'s closing statement was amazing",
    "#{}2016 all the way!",
]
KAGGLE_SHA256 = "83beb7691f876f9a762613e7c262f7a777a529cccfb96478089e912f1292c61c"
ENCODER_WEIGHTS_SHA256 = "e6fc89302970ea9fecac9aa197df0d4b59da591fe3a6b8a1241d93c822067ecd"


SHIPPED = Registry(config.DEFAULT_MODELS_DIR).versions()
# The shipped files stay small: each is committed to git once.
MAX_SHIPPED_BYTES = {"fasttext": 8 * 2**20, "minilm+fasttext": 32 * 2**20}


@pytest.fixture(scope="module", params=SHIPPED)
def predictor(request):
    return load_predictor(config.DEFAULT_MODELS_DIR, request.param)


def label_of(predictor, text):
    return predictor.predict([text])[0]["label"]


def test_worst_show_ever_is_negative(predictor):
    assert label_of(predictor, "WORST SHOW EVER") == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "I love this, great job tonight!",
        "Fantastic answers, so proud of our candidates #GOPDebate",
        "Best debate ever, really impressed",
    ],
)
def test_clear_positives_are_positive(predictor, text):
    assert label_of(predictor, text) == "positive"


@pytest.mark.parametrize(
    "text", ["Awful debate, a total disaster", "This is embarrassing. Terrible answers."]
)
def test_clear_negatives_are_negative(predictor, text):
    assert label_of(predictor, text) == "negative"


@pytest.mark.parametrize("template", INVARIANCE_TEMPLATES)
def test_swapping_candidate_names_does_not_flip_the_label(predictor, template):
    labels = {name: label_of(predictor, template.format(name)) for name in CANDIDATES}
    assert len(set(labels.values())) == 1, labels


def test_adding_terrible_moves_toward_negative(predictor):
    negative = predictor.labels.index("negative")
    base = "Rubio answered the question about jobs"
    before, after = predictor.predict_proba([base, base + ", terrible"])[:, negative]
    assert after > before


def test_the_default_is_the_ensemble_and_the_fast_path_ships_too():
    registry = Registry(config.DEFAULT_MODELS_DIR)
    assert registry.metadata()["architecture"] == "minilm+fasttext"
    architectures = {registry.metadata(v)["architecture"] for v in SHIPPED}
    assert architectures == {"minilm+fasttext", "fasttext"}


@pytest.mark.parametrize("version", SHIPPED)
def test_shipped_model_records_how_it_was_made(version):
    registry = Registry(config.DEFAULT_MODELS_DIR)
    meta = registry.metadata(version)
    assert meta["data"]["sha256"] == KAGGLE_SHA256
    assert meta["data"]["name"] == "Sentiment.csv"
    assert meta["reproduce"].startswith("python train.py")
    assert meta["labels"] == ["negative", "neutral", "positive"]
    assert meta["metrics"]["accuracy"] > 0.6
    size = registry.model_file(version).stat().st_size
    assert size < MAX_SHIPPED_BYTES[meta["architecture"]]
    if meta["architecture"] == "minilm+fasttext":
        assert meta["encoder"]["license"] == "Apache-2.0"
        assert meta["encoder"]["weights_sha256"] == ENCODER_WEIGHTS_SHA256


def test_shipped_model_metadata_matches_the_kaggle_file(full_data):
    import hashlib

    meta = Registry(config.DEFAULT_MODELS_DIR).metadata()
    assert hashlib.sha256(full_data.read_bytes()).hexdigest() == meta["data"]["sha256"]


def test_predict_proba_rows_sum_to_one(predictor):
    probabilities = predictor.predict_proba(["a", "", "WORST SHOW EVER", "x" * 5000])
    assert probabilities.shape == (4, len(predictor.labels))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (probabilities >= 0).all()
    assert predictor.labels == predictor.metadata["labels"] == ["negative", "neutral", "positive"]
