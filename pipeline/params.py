"""Hyperparameters: every recipe's declarations (pipeline/recipes/), collected and checked.

Each recipe declares its own hyperparameters (default, range, help) as a dataclass
(pipeline.recipes.base.param); this module collects them from the catalog
(pipeline.recipes), so `train.py`'s options, the dashboard's retrain form, the sweep space
and validation all come from those declarations: a range changed there changes everywhere.

`resolve_params` turns what a user gave (strings, "yes"/"no", None for unset) into the
typed parameters training gets; `.to_dict()` gives them back in the form kept in metadata.
"""

from typing import Any

from pipeline.errors import ParameterError
from pipeline.recipes import catalog, get_recipe
from pipeline.recipes.base import (
    CLASS_WEIGHTINGS,
    ParamSpec,
    TrainingParams,
    declaring_default,
)

__all__ = [
    "CLASS_WEIGHTINGS",
    "DEFAULT_ARCHITECTURE",
    "ParamSpec",
    "TrainingParams",
    "architecture_help",
    "architectures",
    "check_caps",
    "default_params",
    "param_specs",
    "resolve_params",
    "spec",
    "specs_for",
]

# What train.py, the Retrain tab and resolve_params train when no architecture is named:
# fasttext, seconds on any data. The shipped, active model is minilm+fasttext, chosen on
# validation (bench/compare_models.py), and named explicitly to train it (minutes).
# `lstm` reproduces the tutorial's network for comparison.
DEFAULT_ARCHITECTURE = "fasttext"


def architectures() -> tuple[str, ...]:
    """Every registered recipe's name, in the catalog's order."""
    return tuple(catalog())


def architecture_help() -> dict[str, str]:
    """One line per architecture, for the selectors (the Retrain tab, train.py --help)."""
    return {name: recipe.help for name, recipe in catalog().items()}


def architecture_spec() -> ParamSpec:
    """The `architecture` setting: one of the registered recipes."""
    return ParamSpec(
        "architecture", str, DEFAULT_ARCHITECTURE, "network to train",
        choices=architectures(), used_by=architectures(), searchable=False,
    )  # fmt: skip


def param_specs() -> tuple[ParamSpec, ...]:
    """Every hyperparameter of every recipe, `architecture` first, each once: its default
    is the one of the class that declares it, `used_by` the recipes that have it."""
    found: dict[str, ParamSpec] = {}
    users: dict[str, list[str]] = {}
    for recipe in catalog().values():
        for own in recipe.params.specs():
            if own.name not in found:
                default = declaring_default(recipe.params, own.name)
                found[own.name] = ParamSpec(**{**vars(own), "default": default})
            users.setdefault(own.name, []).append(recipe.name)
    shared = [ParamSpec(**{**vars(s), "used_by": tuple(users[s.name])}) for s in found.values()]
    return (architecture_spec(), *shared)


def spec(name: str) -> ParamSpec:
    """One hyperparameter by name (any recipe's)."""
    for found in param_specs():
        if found.name == name:
            return found
    raise ParameterError(f"Unknown hyperparameter {name}.")


def specs_for(architecture: str) -> tuple[ParamSpec, ...]:
    """The hyperparameters one recipe trains with, with that recipe's defaults."""
    return tuple(
        ParamSpec(**{**vars(own), "used_by": (architecture,)})
        for own in get_recipe(architecture).params.specs()
    )


def default_params(architecture: str = DEFAULT_ARCHITECTURE) -> TrainingParams:
    """The defaults for one architecture.

    Args:
        architecture: a registered recipe's name.

    Returns:
        Its parameters dataclass with every default.
    """
    architecture = architecture_spec().validate(architecture)
    return get_recipe(architecture).defaults()


def resolve_params(overrides: dict[str, Any] | None = None) -> TrainingParams:
    """Fill in defaults for the chosen architecture and validate every value.

    A value for a setting the chosen recipe does not have is checked against the recipe
    that has it, and then left out (it would change nothing).

    Args:
        overrides: the values the user set; None values count as unset.

    Returns:
        The recipe's typed parameters (pipeline.recipes.base.TrainingParams).
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    known = {found.name: found for found in param_specs()}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ParameterError(
            f"Unknown hyperparameter {', '.join(unknown)}. Known: {', '.join(known)}."
        )
    architecture = known["architecture"].validate(given.pop("architecture", DEFAULT_ARCHITECTURE))
    recipe = get_recipe(architecture)
    own = {found.name for found in recipe.params.specs()}
    values = {name: known[name].validate(value) for name, value in given.items()}
    return recipe.params.from_dict(
        {"architecture": architecture, **{k: v for k, v in values.items() if k in own}}
    )


def check_caps(params: TrainingParams, max_epochs: int, max_vocab: int) -> None:
    """Refuse settings above a shared server's caps.

    Args:
        params: validated hyperparameters.
        max_epochs: the most epochs allowed.
        max_vocab: the largest vocabulary allowed (for the recipes that have one).
    """
    if params.epochs > max_epochs:
        raise ParameterError(f"epochs is capped at {max_epochs} here; got {params.epochs}.")
    vocab_size = getattr(params, "vocab_size", None)
    if vocab_size is not None and vocab_size > max_vocab:
        raise ParameterError(f"vocab_size is capped at {max_vocab:,} here; got {vocab_size:,}.")
