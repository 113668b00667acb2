"""Whether a version's training left out another version's test texts, so that scoring it
on them is fair (the Retrain tab's comparison of a new version with the active one)."""

from dataclasses import dataclass

import pandas as pd

from pipeline.analysis.corrections import source_chain
from pipeline.analysis.predictions import load_predictions
from pipeline.errors import RegistryError
from pipeline.registry import Registry
from pipeline.text import normalize_for_grouping


@dataclass
class HeldOut:
    """Whether a version's training left out another version's test texts.

    Attributes:
        held_out: True when none of the texts was in its training or validation part;
            False when some were or most likely were; None when that cannot be told.
        message: one sentence saying which, and how it is known.
    """

    held_out: bool | None
    message: str


def _distinct_texts(predictions: pd.DataFrame) -> set[str]:
    return set(predictions["text"].map(normalize_for_grouping))


def _own_test_texts(registry: Registry, version: str) -> set[str] | None:
    try:
        predictions = load_predictions(registry, version)
    except RegistryError:
        return None
    return None if predictions is None else _distinct_texts(predictions)


def _same_data(a: dict, b: dict) -> bool:
    keys = ("sha256", "text_column", "label_column")
    return a.get("sha256") is not None and all(a.get(k) == b.get(k) for k in keys)


def _same_split(a: dict, b: dict) -> bool:
    keys = ("seed", "validation_share", "test_share")
    return all(a.get("split", {}).get(k) == b.get("split", {}).get(k) for k in keys)


def held_out_from(registry: Registry, trained: str, tested: str) -> HeldOut:
    """Were `tested`'s test texts held out from `trained`'s training (and validation)?

    Exact when both were trained on the same data (file by SHA-256, and columns): with the
    same split none was seen; with another split, the texts outside `trained`'s own test
    part were (counted from its saved test predictions). For different files, a corrected
    copy of the other's file (pipeline.analysis.corrections) or texts in both test parts
    show that the files share texts; otherwise it cannot be told. Texts are compared as the
    split groups them (pipeline.text.normalize_for_grouping).

    Args:
        registry: the registry holding both versions.
        trained: the version whose training is in question (e.g. the active one).
        tested: the version whose test part is used (it must have kept its predictions).

    Returns:
        The verdict and a sentence saying it.

    Raises:
        RegistryError: `tested` kept no test predictions.
    """
    meta, other = registry.metadata(trained), registry.metadata(tested)
    predictions = load_predictions(registry, tested)
    if predictions is None:
        raise RegistryError(f"Version {tested} kept no test predictions.")
    texts = _distinct_texts(predictions)
    data, name = meta.get("data", {}), meta.get("data", {}).get("name", "unrecorded data")
    own = _own_test_texts(registry, trained)
    flatters = "which flatters its figures"
    if _same_data(data, other.get("data", {})):
        if _same_split(meta, other):
            return HeldOut(
                True,
                f"Version {trained} was trained on the same data ({name}) with the same "
                "split: these test texts were held out from it too.",
            )
        split = f"another split (seed {meta.get('split', {}).get('seed', '?')})"
        if own is None:
            return HeldOut(
                False,
                f"Version {trained} was trained on the same data ({name}) with {split}: "
                f"some of these test texts were in its training data, {flatters}.",
            )
        seen = len(texts - own)
        return HeldOut(
            seen == 0,
            f"Version {trained} was trained on the same data ({name}) with {split}: {seen} "
            f"of these {len(texts)} distinct test texts were in its training data"
            + (f", {flatters}." if seen else "."),
        )
    sha, other_sha = data.get("sha256"), other.get("data", {}).get("sha256")
    if sha and other_sha and set(source_chain(sha)) & set(source_chain(other_sha)):
        return HeldOut(
            False,
            f"Version {trained} was trained on {name}, and this data is a corrected copy of it "
            f"(or both are copies of one file): it was most likely trained on some of these "
            f"test texts, {flatters}.",
        )
    shared = len(texts & own) if own else 0
    if shared:
        return HeldOut(
            False,
            f"{shared} of these test texts are in version {trained}'s own test part too, so "
            f"its data ({name}) shares texts with this data: it may have been trained on "
            f"others of them, {flatters}.",
        )
    return HeldOut(
        None,
        f"Version {trained} was trained on other data ({name}); it has not seen these test "
        "texts unless that file holds them too.",
    )
