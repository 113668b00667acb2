"""What a recipe declares: its hyperparameters (default, range, help), its help text, its
timing reference, and the functions that train it.

A recipe is one module in pipeline/recipes/: a frozen dataclass of its hyperparameters (a
subclass of `TrainingParams`, each new field declared with `param`) and a `Recipe` naming
it and its `fit`, registered in the catalog (pipeline.recipes). train.py's options and
--help, the Retrain form, the sweep space and the time estimate all derive from these
declarations (pipeline.params collects them). Training gets the dataclass, with real
booleans; `to_dict` gives the form stored in a version's metadata.

Nothing here imports TensorFlow, so the dashboard and the command lines read every
declaration without it: a recipe imports TensorFlow (pipeline.backend) only inside the
functions that build or train a network.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ParameterError

ProgressReport = Callable[[dict], None]
# (splits, labels, params, report, stop_event) -> (end-to-end model, per-epoch history, extras)
FitFunction = Callable[..., tuple]

# Class weightings by the power they raise scikit-learn's "balanced" weights to. A mild one
# lifts the minority classes' recall (and so macro-F1) for little accuracy; over six split
# seeds the fourth root scored best on validation accuracy plus macro-F1 for fasttext
# (bench/compare_models.py).
CLASS_WEIGHT_POWERS = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0, "fourth-root": 0.25}
CLASS_WEIGHTINGS = tuple(CLASS_WEIGHT_POWERS)
# How a yes/no setting is written on the command line, in the form and in metadata.
NO_YES = ("no", "yes")
_DECLARED = "param"  # the dataclass field metadata key of a declared hyperparameter


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter as the CLI, the form and validation see it.

    Attributes:
        name: its name (a field of a recipe's parameters dataclass).
        kind: int, float or str; a yes/no setting is a str with choices NO_YES.
        default: the default (for one recipe: that recipe's).
        help: a one-line description.
        low, high: the allowed range of a number.
        choices: the allowed values of a str.
        used_by: the architectures whose recipe declares it.
        log_scale: a sweep samples it on a log scale (sizes and rates).
        searched: a sweep searches it when not told which.
        searchable: a sweep may search it at all.
    """

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    used_by: tuple[str, ...] = ()
    log_scale: bool = False
    searched: bool = False
    searchable: bool = True

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
            The value as `kind` (a yes/no setting as "yes" or "no").
        """
        if isinstance(value, bool) and self.choices == NO_YES:
            return NO_YES[value]
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
    if isinstance(value, bool):  # True is an int to Python, but never a valid number here
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


def param(
    default: Any,
    help: str,
    low: float | None = None,
    high: float | None = None,
    choices: tuple | None = None,
    log_scale: bool = False,
    searched: bool = False,
    searchable: bool = True,
) -> Any:
    """Declare a hyperparameter: a field of a recipe's parameters dataclass.

    A subclass changes only the default by declaring the field again with a plain value
    (`epochs: int = 10`); the rest of the declaration is inherited. A `bool` field is a
    yes/no setting. The other arguments are ParamSpec's.
    """
    declared = {"help": help, "low": low, "high": high, "choices": choices,
                "log_scale": log_scale, "searched": searched, "searchable": searchable}  # fmt: skip
    return field(default=default, metadata={_DECLARED: declared})


@dataclass(frozen=True)
class TrainingParams:
    """The hyperparameters every recipe trains with; a recipe's subclass adds its own.

    Attributes:
        architecture: the recipe's name.
    """

    architecture: str
    sequence_length: int = param(
        400, "tokens kept per text (longer texts are cut); the transformers use the length "
        "that holds 99% of the training texts, up to this", 8, 1024, log_scale=True,
    )  # fmt: skip
    dropout: float = param(0.3, "dropout rate", 0.0, 0.8, searched=True)
    epochs: int = param(30, "most passes over the training data", 1, 100)
    batch_size: int = param(64, "texts per training step", 8, 4096, log_scale=True)
    learning_rate: float = param(
        0.002, "peak learning rate", 1e-5, 0.1, log_scale=True, searched=True
    )
    class_weighting: str = param(
        "fourth-root",
        "loss weight of each class: none, inverse frequency (balanced), its square or fourth root",
        choices=CLASS_WEIGHTINGS,
        searched=True,
    )
    patience: int = param(2, "epochs without validation gain before stopping; 0 = off", 0, 20)
    # A final refit trains on the validation part, which then cannot score a sweep's trials.
    final_refit: bool = param(
        False,
        "after early stopping, train again on train + validation for the epochs it found "
        "(each member of a pair for its own; the test part stays untouched); the training "
        "takes about twice as long",
        searchable=False,
    )
    # Fixed for a whole sweep, so that its trials are comparable.
    seed: int = param(
        42, "seed of the split, the weights and the shuffling", 0, 2**31 - 1, searchable=False
    )

    @classmethod
    def specs(cls) -> tuple[ParamSpec, ...]:
        """Every hyperparameter this class declares, its own first, with its defaults."""
        common = [f.name for f in dataclasses.fields(TrainingParams) if _DECLARED in f.metadata]
        names = [f.name for f in dataclasses.fields(cls) if f.name != "architecture"]
        ordered = [n for n in names if n not in common] + common
        return tuple(spec_of(cls, name) for name in ordered)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainingParams":
        """The typed parameters from validated values ("yes"/"no" or booleans for yes/no).

        Args:
            values: `architecture` and a value for any of this class's fields (the others
                keep this class's defaults).
        """
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        typed = {
            name: (value in (True, "yes")) if kinds[name] is bool else value
            for name, value in values.items()
            if name in kinds
        }
        return cls(**typed)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in a version's metadata and shown to users ("yes"/"no")."""
        values = {"architecture": self.architecture}
        for spec in self.specs():
            value = getattr(self, spec.name)
            values[spec.name] = NO_YES[value] if isinstance(value, bool) else value
        return values


def spec_of(params_type: type, name: str) -> ParamSpec:
    """The ParamSpec of one field of a parameters dataclass, with that class's default.

    The declaration (help, range...) is the field's own, or the nearest base class's when a
    subclass only changed the default.
    """
    own = {f.name: f for f in dataclasses.fields(params_type)}[name]
    declared = next(
        base.__dataclass_fields__[name].metadata[_DECLARED]
        for base in params_type.__mro__
        if name in getattr(base, "__dataclass_fields__", {})
        and _DECLARED in base.__dataclass_fields__[name].metadata
    )
    kind, default = own.type, own.default
    if kind is bool:
        kind, default, declared = str, NO_YES[default], {**declared, "choices": NO_YES}
    return ParamSpec(name, kind, default, **declared)


def declaring_default(params_type: type, name: str) -> Any:
    """A field's default in the class that first declared it (before any recipe's own)."""
    declaring = next(
        base
        for base in reversed(params_type.__mro__)
        if name in base.__dict__.get("__annotations__", {})
    )
    return spec_of(declaring, name).default


@dataclass(frozen=True)
class Recipe:
    """One architecture: what it declares and how it trains.

    Attributes:
        name: the architecture's name.
        help: one line for the selectors (the Retrain tab, train.py --help).
        params: its hyperparameters: a TrainingParams subclass (see `param`).
        seconds_per_row: seconds of a whole train-and-save job (fitting, evaluation, the
            LiteRT copy, calibration, analysis, the baseline) per training row with the
            defaults, on a 2-core machine (`python bench/training.py` on the GOP data,
            9,908 training rows; docs/benchmarks.md): pipeline.estimate's reference.
        fit: trains on a split: (splits, labels, params, report, stop_event) -> (a model
            taking raw strings, history dict, extra metadata dict); raises
            TrainingCancelled when the stop event is set.
        count_weights: (params, n_classes) -> the network's number of weights.
        explains_at_once: the Predict tab explains every prediction before being asked.
            An explanation scores the text once more per word: about a millisecond for a
            small network, but a few hundred milliseconds of both cores for a transformer,
            ten times the prediction, which under many sessions would cut the dashboard's
            throughput to a third (bench/load.py); those explain on request.
        check_size: (params, n_classes, max_parameters) -> None, refusing a network above
            a shared server's cap; None where the size is fixed (a pretrained encoder's).
        with_temperature: (model, T) -> the model to save, temperature-scaled where its
            serving path runs; None adds a TemperatureScaling layer on the output
            (pipeline.runtimes.layers.add_temperature).
        quantize: stores a trained model's large layers' weights in int8, in place, for
            the `quantize` hyperparameter; None where it does not apply.
        refits_members: `fit` runs the final refit itself, member by member (an
            ensemble's members stop at different epochs); otherwise training wraps `fit`
            in pipeline.recipes.refit.fit_with_refit.
    """

    name: str
    help: str
    params: type[TrainingParams]
    seconds_per_row: float
    fit: FitFunction
    count_weights: Callable[[Any, int], int]
    explains_at_once: bool = True
    check_size: Callable[[Any, int, int], None] | None = None
    with_temperature: Callable | None = None
    quantize: Callable | None = None
    refits_members: bool = False

    def defaults(self) -> TrainingParams:
        """This recipe's default hyperparameters."""
        return self.params(architecture=self.name)
