"""The final refit: a second run on train + validation for the epochs early stopping found,
saved in place of the first; the ensemble refits each member for its own epoch count."""

import dataclasses

import numpy as np
import pytest
from conftest import TINY_MINILM, TINY_PARAMS

from pipeline import config, recipes
from pipeline.data import load_labelled_data
from pipeline.params import resolve_params
from pipeline.predict import load_model
from pipeline.recipes import ensemble, ngram, transformer
from pipeline.recipes.refit import best_epoch
from pipeline.registry import Registry
from pipeline.runtimes.keras_model import as_model_input
from pipeline.train import train_and_save

# Early stopping stops this fasttext run after a few of its 30 epochs (test_train.py).
STOPPING_EARLY = {**TINY_PARAMS, "epochs": 30, "patience": 1, "learning_rate": 0.05}


@pytest.fixture(scope="module")
def sample_data():
    return load_labelled_data(config.SAMPLE_DATA_PATH)


def recording(fit, calls: list):
    """`fit`, recording each call's training rows, settings, history and model."""

    def recorded(splits, labels, params, report=None, stop_event=None):
        model, history, extras = fit(splits, labels, params, report, stop_event)
        calls.append(
            {
                "architecture": params.architecture,
                "train_texts": set(splits.train["text"]),
                "epochs": params.epochs,
                "patience": params.patience,
                "history": history,
                "model": model,
            }
        )
        return model, history, extras

    return recorded


def assert_refit_after(first: dict, refit: dict, splits_texts: tuple[set, set]) -> None:
    """`refit` trained on train + validation for the epochs `first`'s early stopping kept."""
    train, validation = splits_texts
    assert first["train_texts"] == train
    assert refit["train_texts"] == train | validation
    assert refit["epochs"] == best_epoch(first["history"], first["patience"], first["epochs"])
    assert refit["patience"] == 0
    assert len(refit["history"]["loss"]) == refit["epochs"]


def split_texts(meta: dict, sample_data, seed: int) -> tuple[set, set]:
    from pipeline.data import split_data

    splits = split_data(sample_data, seed)
    assert splits.sizes == meta["split"]["sizes"]
    return set(splits.train["text"]), set(splits.validation["text"])


def test_fasttext_refit_trains_on_validation_too_and_is_the_saved_model(
    sample_data, tmp_path, monkeypatch
):
    calls = []
    recipe = recipes.RECIPES["fasttext"]
    monkeypatch.setitem(
        recipes.RECIPES, "fasttext", dataclasses.replace(recipe, fit=recording(recipe.fit, calls))
    )
    params = resolve_params({**STOPPING_EARLY, "final_refit": "yes"})
    result = train_and_save(sample_data, params, Registry(tmp_path))
    first, refit = calls
    assert len(first["history"]["loss"]) < 30  # early stopping stopped the first run
    assert_refit_after(first, refit, split_texts(result, sample_data, params.seed))
    assert result["refit"] == {"epochs": refit["epochs"], "rows": len(refit["train_texts"])}
    # The first run's curves are the version's; no temperature is fitted on seen rows.
    assert result["history"]["val_loss"] == pytest.approx(first["history"]["val_loss"])
    assert result["calibration"]["applied"] is False
    texts = list(sample_data.frame["text"][:20])
    saved = np.asarray(load_model(Registry(tmp_path))(as_model_input(texts)))
    for call, same in ((refit, True), (first, False)):
        answer = np.asarray(call["model"](as_model_input(texts)))
        assert np.allclose(saved, answer, atol=1e-6) is same


def test_ensemble_refits_each_member_for_its_own_epochs(
    sample_data, tiny_encoder, tmp_path, monkeypatch
):
    # Half the sample: four fits of two recipes, each as small as the check allows.
    sample_data = dataclasses.replace(
        sample_data, frame=sample_data.frame.sample(350, random_state=0).reset_index(drop=True)
    )
    calls = []
    monkeypatch.setattr(ngram, "fit", recording(ngram.fit, calls))
    monkeypatch.setattr(transformer, "fit", recording(transformer.fit, calls))
    events = []
    params = resolve_params(
        # One epoch each: the refit repeats each member's own count, whatever it is.
        {
            "architecture": ensemble.NAME,
            **TINY_MINILM,
            "epochs": 1,
            "quantize": "none",
            "final_refit": "yes",
        }
    )
    result = train_and_save(sample_data, params, Registry(tmp_path), events.append)
    assert [call["architecture"] for call in calls] == ["fasttext"] * 2 + ["minilm"] * 2
    texts = split_texts(result, sample_data, params.seed)
    assert_refit_after(calls[0], calls[1], texts)
    assert_refit_after(calls[2], calls[3], texts)
    rows = len(texts[0] | texts[1])
    assert result["members"]["fasttext"]["refit"] == {"epochs": calls[1]["epochs"], "rows": rows}
    assert result["refit"] == {"epochs": calls[3]["epochs"], "rows": rows}
    assert result["history"]["val_loss"] == pytest.approx(calls[2]["history"]["val_loss"])
    # The saved pair holds both refit members.
    saved = load_model(Registry(tmp_path))
    sample = as_model_input(list(sample_data.frame["text"][:20]))
    for member, call in zip(saved.members, (calls[3], calls[1]), strict=True):
        np.testing.assert_allclose(member(sample), call["model"](sample), atol=1e-5)
    # fasttext's refit is a phase; only minilm's epochs after "refitting" are the refit's.
    names = [event["event"] for event in events]
    assert names.index("refitting the fasttext member") < names.index("batch")
    refit_at = names.index("refitting")
    assert names.count("refitting") == 1
    assert names[refit_at:].count("epoch") == calls[3]["epochs"]
