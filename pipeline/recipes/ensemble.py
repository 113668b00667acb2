"""The `minilm+fasttext` recipe: the fine-tuned transformer and fasttext, as one model.

The two recipes err differently: MiniLM reads the words in context, fasttext matches
character n-grams of hashtags, handles and misspellings that WordPiece splits apart. The
weighted geometric mean of their probabilities (softmax of the weighted sum of their log
probabilities) scored above either alone on the GOP tweets' validation parts, over three
split seeds (bench/compare_models.py); `fasttext_weight` is its weight, 0.5 by that
measurement.

Both members train on the same split with their own recipe's settings: the `minilm`
member with this version's hyperparameters, the `fasttext` member with fasttext's defaults
and the same seed and class weighting. The saved version is one Keras model taking raw
strings (pipeline.runtimes.layers.GeometricEnsemble), so loading with safe_mode, the REST
API and the SavedModel export treat it like any other; its Keras serving path
(pipeline.runtimes.keras_model.pair_forward) runs each member's own fast path and combines
the answers with the same arithmetic.
"""

import threading

from pipeline.errors import TrainingCancelled
from pipeline.params import resolve_params
from pipeline.recipes import ngram, transformer
from pipeline.recipes.base import Recipe
from pipeline.recipes.refit import fit_with_refit
from pipeline.runtimes.layers import GeometricEnsemble

NAME = "minilm+fasttext"
MEMBERS = ("minilm", "fasttext")
# Member settings taken from the ensemble's own: the rest are the member recipe's defaults.
SHARED_WITH_FASTTEXT = ("seed", "class_weighting", "final_refit")


def member_params(params: dict) -> dict[str, dict]:
    """Each member's hyperparameters, validated by its own recipe's ranges."""
    shared = {name: params[name] for name in SHARED_WITH_FASTTEXT}
    own = {k: v for k, v in params.items() if k not in ("architecture", "fasttext_weight")}
    return {
        "minilm": resolve_params({**own, "architecture": "minilm"}),
        "fasttext": resolve_params({**shared, "architecture": "fasttext"}),
    }


def _phase_only(report, member: str):
    """A member's progress as phases: its batches, epochs and refit are not the ensemble's."""

    def phase(event):
        if event["event"] == "refitting":
            report({"event": f"refitting the {member} member"})
        elif event["event"] not in ("batch", "epoch"):
            report(event)

    return phase


def fit(splits, labels: list[str], params: dict, report=None, stop_event=None):
    """Train the fasttext member (seconds), then fine-tune the minilm member, on one split.

    With `final_refit` "yes" each member is trained again on train + validation for the
    epochs its own early stopping found (pipeline.recipes.refit).

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters of `minilm+fasttext`.
        report: progress callback; the minilm member's batches and epochs are the run's
            progress (it takes nearly all the time), fasttext's is one phase before it.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The GeometricEnsemble, the minilm member's per-epoch history, and extras: the
        encoder, the sequence length, and each member's settings and epochs.
    """
    stop_event = stop_event or threading.Event()
    report = report or (lambda event: None)
    settings = member_params(params)
    report({"event": "training the fasttext member"})
    fasttext, fasttext_history, fasttext_extras = fit_with_refit(
        ngram.fit,
        splits,
        labels,
        settings["fasttext"],
        _phase_only(report, "fasttext"),
        stop_event,
    )
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    minilm, history, extras = fit_with_refit(
        transformer.fit, splits, labels, settings["minilm"], report, stop_event
    )
    weight = params["fasttext_weight"]
    extras["members"] = {
        "minilm": {"weight": 1 - weight, "epochs_run": len(history.get("loss", []))},
        "fasttext": {
            "weight": weight,
            "params": settings["fasttext"],
            "epochs_run": len(fasttext_history.get("loss", [])),
            **({"refit": fasttext_extras["refit"]} if "refit" in fasttext_extras else {}),
        },
    }
    return (
        GeometricEnsemble([minilm, fasttext], [1 - weight, weight], name="sentiment"),
        history,
        extras,
    )


def with_temperature(model: GeometricEnsemble, temperature: float) -> GeometricEnsemble:
    """The ensemble with its combination temperature-scaled (the members are unchanged)."""
    return GeometricEnsemble(model.members, model.member_weights, temperature, name=model.name)


def quantize(model: GeometricEnsemble) -> None:
    """int8 storage for the transformer member; fasttext's few weights stay float."""
    transformer.quantize(model.members[0])


def count_weights(params: dict, n_classes: int) -> int:
    """Both members' weights."""
    settings = member_params(params)
    return transformer.count_weights(settings["minilm"], n_classes) + ngram.count_weights(
        settings["fasttext"], n_classes
    )


RECIPES = {
    NAME: Recipe(
        NAME,
        fit,
        count_weights,
        with_temperature,
        quantize,
        refits_members=True,
    ),
}
