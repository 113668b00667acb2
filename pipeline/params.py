"""Hyperparameters: every name, default and allowed range, defined once.

`train.py`'s options, the dashboard's retrain form and validation are all generated from
`PARAM_SPECS`, so a range changed here changes everywhere.
"""

from dataclasses import dataclass
from typing import Any

from pipeline.errors import ParameterError

# What train.py, the Retrain tab and resolve_params train when no architecture is named:
# fasttext, seconds on any data. The shipped, active model is minilm+fasttext, chosen on
# validation (bench/compare_models.py), and named explicitly to train it (minutes).
# `lstm` reproduces the tutorial's network for comparison. Each architecture is a recipe
# module in pipeline/recipes/.
DEFAULT_ARCHITECTURE = "fasttext"
ARCHITECTURES = ("fasttext", "lstm", "minilm", "minilm-frozen", "minilm+fasttext")
NGRAM = ("fasttext", "lstm")
TRANSFORMERS = ("minilm", "minilm-frozen")
ENSEMBLES = ("minilm+fasttext",)
# Where the transformer's own settings apply: the transformers, and the ensemble's minilm.
FINE_TUNED = ("minilm", "minilm+fasttext")
WITH_ENCODER = (*TRANSFORMERS, *ENSEMBLES)
# One line per architecture for the selectors' help (the Retrain tab, train.py --help).
ARCHITECTURE_HELP = {
    "fasttext": "averaged character n-gram embeddings: trains in seconds, 0.1 ms a text",
    "lstm": "the tutorial's two-layer LSTM, for comparison",
    "minilm": "the pretrained MiniLM transformer, fine-tuned end to end: the best single network "
    "with 3,000 rows or more (with 1,000 or fewer it lost to minilm-frozen on the "
    "GOP tweets and to fasttext on the Apple tweets), minutes to train",
    "minilm-frozen": "the pretrained MiniLM kept fixed, only a softmax head trained on its "
    "cached sentence embeddings: seconds to train once cached; on the GOP tweets the best "
    "recipe with 1,000 labelled rows or fewer (on the Apple tweets only at 100 rows)",
    "minilm+fasttext": "minilm and fasttext trained on the same split, their probabilities "
    "combined by a weighted geometric mean: the most accurate with the full GOP data, a few "
    "seconds longer to train than minilm and about as fast to serve",
}
# Class weightings by the power they raise scikit-learn's "balanced" weights to. A mild one
# lifts the minority classes' recall (and so macro-F1) for little accuracy; over six split
# seeds the fourth root scored best on validation accuracy plus macro-F1 for fasttext
# (bench/compare_models.py).
CLASS_WEIGHT_POWERS = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0, "fourth-root": 0.25}
CLASS_WEIGHTINGS = tuple(CLASS_WEIGHT_POWERS)


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter: its type, default, allowed range and a one-line description."""

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    used_by: tuple[str, ...] = ARCHITECTURES

    def applies_to(self, architecture: str) -> bool:
        """Whether this setting changes what `architecture` trains."""
        return architecture in self.used_by

    def describe_range(self) -> str:
        """Say what values are allowed, e.g. "8 to 1024" or "one of fasttext, lstm"."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is int:
            return f"{self.low:d} to {self.high:d}"
        return f"{self.low:g} to {self.high:g}"

    def validate(self, value: Any) -> Any:
        """Convert `value` to this parameter's type and check its range.

        Args:
            value: a value from the CLI, the form or a metadata file.

        Returns:
            The value as `kind`.
        """
        try:
            converted = _convert(self.kind, value)
        except (TypeError, ValueError):
            kind = self.kind.__name__
            raise ParameterError(
                f"{self.name} must be {kind} ({self.describe_range()}); got {value!r}."
            ) from None
        if self.choices and converted not in self.choices:
            raise ParameterError(f"{self.name} must be {self.describe_range()}; got {value!r}.")
        if self.low is not None and not self.low <= converted <= self.high:
            raise ParameterError(f"{self.name} must be {self.describe_range()}; got {value!r}.")
        return converted


def _convert(kind: type, value: Any) -> Any:
    if isinstance(value, bool):  # True is an int to Python, but never a valid setting here
        raise ValueError(value)
    if kind is int:
        if float(value) != int(float(value)):
            raise ValueError(value)
        return int(float(value))
    if kind is float:
        number = float(value)
        if number != number:  # NaN
            raise ValueError(value)
        return number
    return str(value).strip().lower()


PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("architecture", str, DEFAULT_ARCHITECTURE, "network to train", choices=ARCHITECTURES),
    ParamSpec(
        "vocab_size", int, 50_000, "largest vocabulary kept by the vectorizer", 500, 100_000,
        used_by=NGRAM,
    ),
    ParamSpec(
        "sequence_length", int, 400,
        "tokens kept per text (longer texts are cut); the transformers use the length that "
        "holds 99% of the training texts, up to this", 8, 1024,
    ),
    ParamSpec(
        "embedding_dim", int, 32, "size of each token's embedding", 8, 512, used_by=NGRAM
    ),
    ParamSpec("units", int, 64, "recurrent units of the LSTM", 8, 1024, used_by=("lstm",)),
    ParamSpec("dropout", float, 0.3, "dropout rate", 0.0, 0.8),
    ParamSpec("epochs", int, 30, "most passes over the training data", 1, 100),
    ParamSpec("batch_size", int, 64, "texts per training step", 8, 4096),
    ParamSpec("learning_rate", float, 0.002, "peak learning rate", 1e-5, 0.1),
    ParamSpec(
        "warmup_share", float, 0.1,
        "share of the steps over which the learning rate warms up, before a cosine decay",
        0.0, 0.5, used_by=FINE_TUNED,
    ),
    ParamSpec(
        "token_embeddings", str, "fixed",
        "keep the encoder's token embedding table (11.7 M of its 22.7 M weights) as "
        "pretrained, or fine-tune it too; fixed scored the same on validation "
        "(bench/compare_models.py), makes a step about 10 % faster and lowers training's "
        "peak memory by 50 to 120 MiB",
        choices=("train", "fixed"), used_by=FINE_TUNED,
    ),
    ParamSpec(
        "weight_decay", float, 0.01, "AdamW weight decay (not on biases and layer norms)",
        0.0, 0.3, used_by=WITH_ENCODER,
    ),
    ParamSpec(
        "layer_decay", float, 1.0,
        "layer-wise learning-rate decay: the head trains at the learning rate, each encoder "
        "layer below it at this times the rate of the layer above, the embeddings lowest; "
        "1 = one rate for all",
        0.5, 1.0, used_by=FINE_TUNED,
    ),
    ParamSpec(
        "ema_momentum", float, 0.0,
        "keep an exponential moving average of the weights with this momentum (e.g. 0.99, "
        "about the last 100 steps) and validate, stop early on and save the average; 0 = off",
        0.0, 0.9999, used_by=FINE_TUNED,
    ),
    ParamSpec(
        "fasttext_weight", float, 0.5,
        "weight of the fasttext member in the geometric mean of the members' probabilities "
        "(minilm gets the rest); of 0.3 to 0.7, 0.5 had the best GOP validation mean "
        "(bench/ensembles.py)",
        0.0, 1.0, used_by=ENSEMBLES,
    ),
    ParamSpec(
        "class_weighting",
        str,
        "fourth-root",
        "loss weight of each class: none, inverse frequency (balanced), its square or fourth root",
        choices=CLASS_WEIGHTINGS,
    ),
    ParamSpec("patience", int, 2, "epochs without validation gain before stopping; 0 = off", 0, 20),
    ParamSpec(
        "final_refit", str, "no",
        "after early stopping, train again on train + validation for the epochs it found "
        "(each member of a pair for its own; the test part stays untouched); the training "
        "takes about twice as long", choices=("no", "yes"),
        used_by=(*NGRAM, *TRANSFORMERS, *ENSEMBLES),
    ),
    ParamSpec(
        "quantize", str, "none",
        "store the transformer's dense layers and embeddings as int8 weights (a quarter of "
        "the file; the arithmetic stays float, as in its LiteRT copy)",
        choices=("none", "int8"), used_by=WITH_ENCODER,
    ),
    ParamSpec(
        "lite_copy", str, "yes",
        "also save a LiteRT copy of the transformer, served without TensorFlow (far less "
        "memory, a faster start) if it gives the Keras model's label on 99.5% of the "
        "validation and test texts", choices=("no", "yes"), used_by=WITH_ENCODER,
    ),
    ParamSpec("seed", int, 42, "seed of the split, the weights and the shuffling", 0, 2**31 - 1),
)  # fmt: skip
SPECS_BY_NAME = {spec.name: spec for spec in PARAM_SPECS}

# Where an architecture's own defaults differ from the shared ones. `lstm` is the
# tutorial's recipe: vocabulary 2,000, 28 tokens, embedding 128, LSTM 196, spatial
# dropout 0.4, batch 512 for 10 epochs.
ARCHITECTURE_DEFAULTS: dict[str, dict[str, Any]] = {
    "fasttext": {},
    # Fine-tuning settings as serious BERT fine-tuning uses them (AdamW, warm-up, a small
    # learning rate, few epochs); chosen on validation (bench/compare_models.py).
    "minilm": {
        "sequence_length": 128,
        "dropout": 0.1,
        "epochs": 2,
        "batch_size": 32,
        "learning_rate": 8e-5,
        "class_weighting": "sqrt",
        "patience": 1,
        "quantize": "int8",
    },
    "minilm-frozen": {
        "sequence_length": 128,
        "dropout": 0.1,
        "epochs": 30,
        "batch_size": 64,
        "learning_rate": 0.003,
        "class_weighting": "sqrt",
        "patience": 5,
    },
    "minilm+fasttext": {},  # the minilm member's settings (below); fasttext keeps its own
    "lstm": {
        "vocab_size": 2_000,
        "sequence_length": 28,
        "embedding_dim": 128,
        "units": 196,
        "dropout": 0.4,
        "epochs": 10,
        "batch_size": 512,
        "learning_rate": 0.001,
        "class_weighting": "none",
    },
}

ARCHITECTURE_DEFAULTS["minilm+fasttext"] = ARCHITECTURE_DEFAULTS["minilm"]


def default_params(architecture: str = DEFAULT_ARCHITECTURE) -> dict[str, Any]:
    """The defaults for one architecture.

    Args:
        architecture: one of ARCHITECTURES.

    Returns:
        A dict with every hyperparameter.
    """
    architecture = SPECS_BY_NAME["architecture"].validate(architecture)
    values = {spec.name: spec.default for spec in PARAM_SPECS}
    values.update(ARCHITECTURE_DEFAULTS[architecture], architecture=architecture)
    return values


def resolve_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill in defaults for the chosen architecture and validate every value.

    Args:
        overrides: the values the user set; None values count as unset.

    Returns:
        A complete, validated dict of hyperparameters.
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(SPECS_BY_NAME))
    if unknown:
        raise ParameterError(
            f"Unknown hyperparameter {', '.join(unknown)}. Known: {', '.join(SPECS_BY_NAME)}."
        )
    values = default_params(given.get("architecture", DEFAULT_ARCHITECTURE))
    values.update(given)
    return {name: SPECS_BY_NAME[name].validate(value) for name, value in values.items()}


def check_caps(params: dict, max_epochs: int, max_vocab: int) -> None:
    """Refuse settings above a shared server's caps.

    Args:
        params: validated hyperparameters.
        max_epochs: the most epochs allowed.
        max_vocab: the largest vocabulary allowed.
    """
    if params["epochs"] > max_epochs:
        raise ParameterError(f"epochs is capped at {max_epochs} here; got {params['epochs']}.")
    if params["vocab_size"] > max_vocab:
        raise ParameterError(
            f"vocab_size is capped at {max_vocab:,} here; got {params['vocab_size']:,}."
        )
