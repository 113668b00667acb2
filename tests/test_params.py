"""Hyperparameters: one definition, defaults per architecture, clear errors."""

import pytest

from pipeline.errors import ParameterError
from pipeline.params import architectures, default_params, param_specs, resolve_params

REQUIRED = {
    "architecture", "vocab_size", "sequence_length", "embedding_dim", "units", "dropout",
    "epochs", "batch_size", "learning_rate", "class_weighting", "patience", "seed",
    "warmup_share", "weight_decay", "final_refit", "quantize", "lite_copy", "fasttext_weight",
    "token_embeddings", "layer_decay", "ema_momentum",
}  # fmt: skip


def test_every_required_hyperparameter_is_defined_with_a_valid_default():
    assert {spec.name for spec in param_specs()} == REQUIRED
    for spec in param_specs():
        assert spec.validate(spec.default) == spec.default


@pytest.mark.parametrize("architecture", architectures())
def test_each_architecture_has_valid_defaults_help_and_a_time_estimate(architecture):
    from pipeline.params import architecture_help
    from pipeline.recipes import RECIPES

    params = default_params(architecture)
    assert resolve_params(params.to_dict()) == params
    assert architecture_help()[architecture]
    assert RECIPES[architecture].seconds_per_row > 0
    assert RECIPES[architecture].name == architecture


def test_lstm_defaults_reproduce_the_tutorial():
    params = default_params("lstm")
    assert (params.vocab_size, params.sequence_length) == (2000, 28)
    assert (params.embedding_dim, params.units, params.dropout) == (128, 196, 0.4)


def test_overrides_apply_on_top_of_the_architecture_defaults():
    params = resolve_params({"architecture": "lstm", "epochs": "3", "dropout": None})
    assert params.epochs == 3
    assert params.dropout == 0.4
    assert params.vocab_size == 2000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"units": 5000}, r"units must be 8 to 1024; got 5000"),
        ({"dropout": -0.1}, r"dropout must be 0 to 0.8"),
        ({"epochs": 2.5}, r"epochs must be int"),
        ({"epochs": "ten"}, r"epochs must be int"),
        ({"learning_rate": "nan"}, r"learning_rate must be float"),
        ({"class_weighting": "maybe"}, r"class_weighting must be one of none, sqrt, balanced"),
        ({"architecture": "transformer"}, r"architecture must be one of fasttext, lstm"),
        ({"lerning_rate": 0.1}, r"Unknown hyperparameter lerning_rate"),
    ],
)
def test_invalid_values_get_a_clear_error(overrides, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params(overrides)


def test_choices_ignore_case_and_spaces():
    assert resolve_params({"class_weighting": " Balanced"}).class_weighting == "balanced"
    assert resolve_params({"architecture": "LSTM"}).architecture == "lstm"
