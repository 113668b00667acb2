"""A sweep's search space: ranges from the recipes' declarations, or narrower ones, validated.

Every range comes from a ParamSpec (its low / high or its choices), and so does what a
sweep searches when not told, what it never searches and what it samples on a log scale
(pipeline.recipes.base.param); the experimenter may narrow a range, never widen it.
Parameters not searched keep the architecture's defaults.
"""

from dataclasses import dataclass, field
from typing import Any

from pipeline.data import LabelledData
from pipeline.errors import ParameterError
from pipeline.params import ParamSpec, TrainingParams, default_params, resolve_params, spec
from pipeline.params import specs_for as _specs_for

# What a sweep searches when not told otherwise (a declaration's `searched`): the settings
# that change the model's quality but hardly what a trial costs. The embedding size, the
# LSTM's units, the sequence length and the batch size multiply a trial's time (on the GOP
# data a fasttext trial with a 416-wide embedding trained 5x longer than the default's 32),
# and epochs and patience are early stopping's business, so they keep their defaults unless
# asked for. The split seed is fixed for the whole sweep, so trials are comparable; a final
# refit trains on the validation part, which then cannot score the trials (both are declared
# not `searchable`). Sizes and rates are sampled on a log scale (`log_scale`), where 100 to
# 200 matters as much as 1,000 to 2,000.


MAX_TRIALS = 500  # the most trials one sweep may ask for
DEFAULT_TRIALS = 20
REFIT_REFUSED = (
    "final_refit trains on the validation part, which then cannot score a sweep's trials; "
    "train the best trial again with --final-refit yes instead."
)


@dataclass(frozen=True)
class SearchRange:
    """The values one hyperparameter may take in a sweep.

    Attributes:
        name: the ParamSpec's name.
        low: the smallest value (numeric parameters).
        high: the largest value (numeric parameters).
        choices: the values to try (parameters with choices).
        log: sample on a log scale.
    """

    name: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    log: bool = False

    def suggest(self, trial) -> Any:
        """Ask an Optuna trial for a value in this range."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if spec(self.name).kind is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def clip(self, value: Any) -> Any:
        """The value nearest to `value` inside this range (a default outside a narrowed one)."""
        if self.choices is not None:
            return value if value in self.choices else self.choices[0]
        return min(max(value, self.low), self.high)

    def describe(self) -> str:
        """E.g. "0.0001 to 0.01 (log)" or "none, sqrt"."""
        if self.choices is not None:
            return ", ".join(map(str, self.choices))
        return f"{self.low:g} to {self.high:g}" + (" (log)" if self.log else "")

    def to_dict(self) -> dict:
        """A JSON-ready form, for the sweep's record."""
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log}


def searchable(architecture: str) -> list[str]:
    """The hyperparameters a sweep of `architecture` may search, in its recipe's order."""
    default_params(architecture)  # validates the architecture
    return [found.name for found in _specs_for(architecture) if found.searchable]


def default_searched(architecture: str) -> list[str]:
    """What a sweep of `architecture` searches when not told otherwise."""
    return [found.name for found in _specs_for(architecture) if found.searchable and found.searched]


def full_range(name: str, caps: dict | None = None) -> SearchRange:
    """A parameter's whole range as declared, its top lowered to a server's cap if any.

    Args:
        name: a ParamSpec name.
        caps: name -> the largest value allowed here (the Retrain tab's caps), optional.

    Returns:
        The range.
    """
    declared = spec(name)
    if declared.choices:
        return SearchRange(name, choices=tuple(declared.choices))
    high = min(declared.high, (caps or {}).get(name, declared.high))
    return SearchRange(name, declared.low, high, log=declared.log_scale and declared.low > 0)


def narrow_range(name: str, values: list, caps: dict | None = None) -> SearchRange:
    """A range the experimenter picked: LOW HIGH, or the choices to try.

    Args:
        name: a ParamSpec name.
        values: [low, high] for a numeric parameter (equal values fix it), or one or more
            of its choices.
        caps: see full_range.

    Returns:
        The range, checked to lie inside the parameter's own.
    """
    declared, widest = spec(name), full_range(name, caps)
    if declared.choices:
        if not values:
            raise ParameterError(
                f"Search range for {name}: give one or more of {widest.describe()}."
            )
        picked = tuple(dict.fromkeys(_validate(declared, v) for v in values))
        return SearchRange(name, choices=picked)
    if len(values) != 2:
        raise ParameterError(
            f"Search range for {name}: give a low and a high value ({declared.describe_range()}); "
            f"got {len(values)} value(s)."
        )
    low, high = (_validate(declared, v) for v in values)
    if low > high:
        raise ParameterError(f"Search range for {name}: low {low:g} is above high {high:g}.")
    if high > widest.high:
        raise ParameterError(f"Search range for {name}: {name} is capped at {widest.high:g} here.")
    return SearchRange(name, low, high, log=widest.log and low > 0)


def _validate(declared: ParamSpec, value: Any) -> Any:
    try:
        return declared.validate(value)
    except ParameterError as exc:
        raise ParameterError(f"Search range for {declared.name}: {exc}") from None


def build_space(
    architecture: str,
    names: list[str] | None = None,
    ranges: dict[str, list] | None = None,
    caps: dict | None = None,
) -> dict[str, SearchRange]:
    """The search space of a sweep.

    Args:
        architecture: the architecture every trial trains.
        names: the parameters to search; default `default_searched(architecture)`. Any
            parameter with a range in `ranges` is searched too.
        ranges: name -> narrower values (see narrow_range); the others get their full range.
        caps: see full_range.

    Returns:
        name -> SearchRange, in the recipe's order.
    """
    ranges = ranges or {}
    allowed = searchable(architecture)
    wanted = set(default_searched(architecture) if names is None else names) | set(ranges)
    for name in sorted(wanted - set(allowed)):
        raise ParameterError(_why_not_searchable(name, architecture, allowed))
    if not wanted:
        raise ParameterError("Choose at least one hyperparameter to search.")
    return {
        name: narrow_range(name, ranges[name], caps) if name in ranges else full_range(name, caps)
        for name in allowed
        if name in wanted
    }


def _why_not_searchable(name: str, architecture: str, allowed: list[str]) -> str:
    listed = ", ".join(allowed)
    if name == "seed":
        return "seed stays fixed for a whole sweep, so its trials are comparable; set it instead."
    if name == "architecture":
        return "A sweep trains one architecture; choose it instead of searching it."
    if name == "final_refit":
        return REFIT_REFUSED
    if _known(name):
        return f"{name} is not used by {architecture}; searchable: {listed}."
    return f"Unknown hyperparameter {name}; searchable for {architecture}: {listed}."


def _known(name: str) -> bool:
    try:
        spec(name)
    except ParameterError:
        return False
    return True


def default_trial(space: dict[str, SearchRange], defaults: dict) -> dict:
    """The first trial's values: the defaults, each clipped into its (narrowed) range."""
    return {name: search.clip(defaults[name]) for name, search in space.items()}


@dataclass(frozen=True)
class SweepPlan:
    """What to search, and for how long.

    Attributes:
        architecture: the architecture every trial trains.
        trials: the most trials to run.
        space: name -> SearchRange (pipeline.sweep.space.build_space).
        timeout: seconds after which no new trial starts; None for no budget.
        fixed: values for parameters not searched (the others keep their defaults); the
            seed among them fixes the split of the whole sweep.
        max_parameters: refuse (as failed trials) networks with more weights, or None.
    """

    architecture: str
    trials: int
    space: dict[str, SearchRange]
    timeout: float | None = None
    fixed: dict = field(default_factory=dict)
    max_parameters: int | None = None

    def __post_init__(self):
        if not 1 <= self.trials <= MAX_TRIALS:
            raise ParameterError(f"A sweep runs 1 to {MAX_TRIALS} trials; got {self.trials}.")
        if self.timeout is not None and self.timeout <= 0:
            raise ParameterError(f"The time budget must be positive; got {self.timeout:g} s.")
        foreign = sorted(set(self.space) - set(searchable(self.architecture)))
        if foreign:
            raise ParameterError(_why_not_searchable(foreign[0], self.architecture,
                                                     searchable(self.architecture)))  # fmt: skip
        searched_and_fixed = sorted(set(self.fixed) & set(self.space))
        if searched_and_fixed:
            raise ParameterError(
                f"{', '.join(searched_and_fixed)} cannot be both searched and fixed."
            )

    def describe(self, sweep_id: str, data: LabelledData) -> dict:
        """The sweep's settings, for its record."""
        return {
            "sweep": sweep_id,
            "architecture": self.architecture,
            "data": data.source,
            "trials_wanted": self.trials,
            "timeout": self.timeout,
            "space": {name: search.to_dict() for name, search in self.space.items()},
            "fixed": self.fixed,
        }

    def base_params(self) -> TrainingParams:
        """Every trial's values for the parameters not searched, validated."""
        if "architecture" in self.fixed:
            raise ParameterError("A sweep trains one architecture; choose it, do not fix it.")
        params = resolve_params({**self.fixed, "architecture": self.architecture})
        if params.final_refit:
            raise ParameterError(REFIT_REFUSED)
        return params
