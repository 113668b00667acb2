"""Model recipes, one module each behind the small interface of `base.Recipe`.

| architecture | module | what it is |
|---|---|---|
| fasttext, lstm | ngram | character n-gram embeddings averaged; the tutorial's LSTM |
| minilm | transformer | a pretrained MiniLM encoder fine-tuned end to end |
| minilm-frozen | frozen | the same encoder kept fixed, cached embeddings, a trained head |
| minilm+fasttext | ensemble | minilm and fasttext on one split, their geometric mean |

Modules are imported on first use: the n-gram recipes never import keras-hub.
"""

import importlib

RECIPE_MODULES = {
    "fasttext": "pipeline.recipes.ngram",
    "lstm": "pipeline.recipes.ngram",
    "minilm": "pipeline.recipes.transformer",
    "minilm-frozen": "pipeline.recipes.frozen",
    "minilm+fasttext": "pipeline.recipes.ensemble",
}


def get_recipe(architecture: str):
    """The Recipe of an architecture (its module is imported, registering its layers).

    Args:
        architecture: one of params.ARCHITECTURES.

    Returns:
        A base.Recipe.
    """
    return importlib.import_module(RECIPE_MODULES[architecture]).RECIPES[architecture]


def recipe_of(architecture: str | None):
    """A saved version's recipe; metadata older than the recipes (no architecture) is n-gram."""
    return get_recipe(architecture if architecture in RECIPE_MODULES else "fasttext")


def check_model_size(params: dict, n_classes: int, max_parameters: int) -> None:
    """Refuse an n-gram network with more weights than a shared server allows.

    A transformer's size is its pretrained encoder's, fixed and measured to fit a small
    server (bench/memory.py), so the cap, which bounds the user's vocabulary and
    embedding choices, does not apply to it.
    """
    from pipeline.params import NGRAM

    if params["architecture"] in NGRAM:
        from pipeline.recipes.ngram import check_model_size as check_ngram

        check_ngram(params, n_classes, max_parameters)
