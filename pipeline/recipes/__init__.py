"""The recipes (training only), one module each, and their catalog.

| architecture | module | what it is |
|---|---|---|
| fasttext, lstm | ngram | character n-gram embeddings averaged; the tutorial's LSTM |
| minilm | transformer | a pretrained MiniLM encoder fine-tuned end to end |
| minilm-frozen | frozen | the same encoder kept fixed, cached embeddings, a trained head |
| minilm+fasttext | ensemble | minilm and fasttext on one split, their geometric mean |

A recipe module declares a `base.Recipe`: its hyperparameters, help, timing reference and
`fit`. Adding one is that module plus one `register` call (below, for the built-in ones;
a test registers its own). Everything that lists recipes or their settings reads this
catalog: pipeline.params, train.py, the Retrain form, sweeps, the time estimate.
Importing it never imports TensorFlow (each recipe imports it when it trains).

A recipe kept outside the project joins through SENTIMENT_RECIPE_MODULES (config), which
every process reads when the catalog loads, the dashboard's training workers included.
"""

import importlib
import os

from pipeline import config
from pipeline.errors import ParameterError
from pipeline.recipes import ensemble, frozen, ngram, transformer
from pipeline.recipes.base import Recipe

RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe to the catalog (or replace the one of the same name).

    Args:
        recipe: its declaration.

    Returns:
        The same recipe.
    """
    RECIPES[recipe.name] = recipe
    return recipe


def unregister(name: str) -> None:
    """Take a recipe out of the catalog (a test's own, when it is done)."""
    RECIPES.pop(name, None)


def get_recipe(architecture: str) -> Recipe:
    """The Recipe of an architecture.

    Args:
        architecture: a registered recipe's name.

    Returns:
        Its Recipe.
    """
    try:
        return catalog()[architecture]
    except KeyError:
        known = ", ".join(RECIPES)
        raise ParameterError(f"Unknown architecture {architecture!r}; known: {known}.") from None


def explains_at_once(architecture: str | None) -> bool:
    """Whether the Predict tab explains every prediction of a version before being asked
    (see Recipe.explains_at_once); versions older than the recipes (no architecture) are
    n-gram ones."""
    recipe = catalog().get(architecture or "fasttext")
    return recipe is None or recipe.explains_at_once


def check_model_size(params, n_classes: int, max_parameters: int) -> None:
    """Refuse a network with more weights than a shared server allows, where the recipe
    caps it (Recipe.check_size; a pretrained encoder's size is fixed, measured to fit a
    small server by bench/memory.py, so the cap does not apply to it).

    Args:
        params: validated hyperparameters (a TrainingParams).
        n_classes: how many labels it predicts.
        max_parameters: the most weights allowed.
    """
    check = get_recipe(params.architecture).check_size
    if check is not None:
        check(params, n_classes, max_parameters)


for _recipe in (
    ngram.FASTTEXT,
    ngram.LSTM,
    transformer.MINILM,
    frozen.MINILM_FROZEN,
    ensemble.PAIR,
):
    register(_recipe)


def register_modules(names: str) -> None:
    """Register the RECIPE of each named module (comma-separated import names).

    Raises:
        ParameterError: a module cannot be imported or declares no RECIPE.
    """
    for name in filter(None, (part.strip() for part in names.split(","))):
        try:
            recipe = importlib.import_module(name).RECIPE
        except (ImportError, AttributeError) as exc:
            raise ParameterError(
                f"{config.RECIPE_MODULES_ENV} names {name!r}, which declares no recipe: {exc}"
            ) from None
        register(recipe)


_from_environment: list[str] = []  # the SENTIMENT_RECIPE_MODULES value already registered


def catalog() -> dict[str, Recipe]:
    """Every registered recipe by name, with those SENTIMENT_RECIPE_MODULES names.

    The named modules are imported at the first call rather than with this package, since
    they import pipeline.recipes.base themselves.
    """
    names = os.environ.get(config.RECIPE_MODULES_ENV, "")
    if names not in _from_environment:
        _from_environment.append(names)
        register_modules(names)
    return RECIPES
