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

import dataclasses
import threading
from dataclasses import dataclass

from pipeline.errors import TrainingCancelled
from pipeline.recipes import ngram, transformer
from pipeline.recipes.base import Recipe, param
from pipeline.recipes.ngram import FastTextParams
from pipeline.recipes.refit import fit_with_refit
from pipeline.recipes.transformer import MinilmParams

NAME = "minilm+fasttext"
MEMBERS = ("minilm", "fasttext")
# Member settings taken from the ensemble's own: the rest are the member recipe's defaults.
SHARED_WITH_FASTTEXT = ("seed", "class_weighting", "final_refit")


@dataclass(frozen=True)
class PairParams(MinilmParams):
    """The minilm member's settings (its defaults too), and the fasttext member's weight;
    the fasttext member keeps its own defaults."""

    fasttext_weight: float = param(
        0.5,
        "weight of the fasttext member in the geometric mean of the members' probabilities "
        "(minilm gets the rest); of 0.3 to 0.7, 0.5 had the best GOP validation mean "
        "(bench/ensembles.py)",
        0.0, 1.0, searched=True,
    )  # fmt: skip


def member_params(params: PairParams) -> dict[str, MinilmParams | FastTextParams]:
    """Each member's hyperparameters: minilm's are the pair's, fasttext's its defaults but
    for SHARED_WITH_FASTTEXT."""
    minilm = {f.name: getattr(params, f.name) for f in dataclasses.fields(MinilmParams)}
    shared = {name: getattr(params, name) for name in SHARED_WITH_FASTTEXT}
    return {
        "minilm": MinilmParams(**{**minilm, "architecture": "minilm"}),
        "fasttext": FastTextParams(architecture="fasttext", **shared),
    }


def _phase_only(report, member: str):
    """A member's progress as phases: its batches, epochs and refit are not the ensemble's."""

    def phase(event):
        if event["event"] == "refitting":
            report({"event": f"refitting the {member} member"})
        elif event["event"] not in ("batch", "epoch"):
            report(event)

    return phase


def fit(splits, labels: list[str], params: PairParams, report=None, stop_event=None):
    """Train the fasttext member (seconds), then fine-tune the minilm member, on one split.

    With `final_refit` on, each member is trained again on train + validation for the
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
    from pipeline.runtimes.layers import GeometricEnsemble

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
    weight = params.fasttext_weight
    extras["members"] = {
        "minilm": {"weight": 1 - weight, "epochs_run": len(history.get("loss", []))},
        "fasttext": {
            "weight": weight,
            "params": settings["fasttext"].to_dict(),
            "epochs_run": len(fasttext_history.get("loss", [])),
            **({"refit": fasttext_extras["refit"]} if "refit" in fasttext_extras else {}),
        },
    }
    return (
        GeometricEnsemble([minilm, fasttext], [1 - weight, weight], name="sentiment"),
        history,
        extras,
    )


def with_temperature(model, temperature: float):
    """The GeometricEnsemble with its combination temperature-scaled (the members are
    unchanged)."""
    from pipeline.runtimes.layers import GeometricEnsemble

    return GeometricEnsemble(model.members, model.member_weights, temperature, name=model.name)


def quantize(model) -> None:
    """int8 storage for the transformer member; fasttext's few weights stay float."""
    transformer.quantize(model.members[0])


def count_weights(params: PairParams, n_classes: int) -> int:
    """Both members' weights."""
    settings = member_params(params)
    return transformer.count_weights(settings["minilm"], n_classes) + ngram.count_weights(
        settings["fasttext"], n_classes
    )


PAIR = Recipe(
    name=NAME,
    help="minilm and fasttext trained on the same split, their probabilities "
    "combined by a weighted geometric mean: the most accurate with the full GOP data, a few "
    "seconds longer to train than minilm and about as fast to serve",
    params=PairParams,
    seconds_per_row=319.3 / 9908,  # `python bench/training.py` (see Recipe.seconds_per_row)
    fit=fit,
    count_weights=count_weights,
    explains_at_once=False,
    with_temperature=with_temperature,
    quantize=quantize,
    refits_members=True,
)
