"""Compare runs: learning curves, per-class metrics, differences and disagreements."""

import pandas as pd

# What a version's metadata says about how it was made, compared between two versions.
COMPARED_FIELDS = (
    ("architecture",), ("data", "name"), ("data", "sha256"), ("data", "rows_used"),
    ("split", "seed"), ("split", "sizes"), ("extra_training_rows",), ("tags",),
)  # fmt: skip
SHOWN_COLUMNS = ["text", "label", "predicted_a", "predicted_b"]


def learning_curves_frame(metadata: dict[str, dict]) -> pd.DataFrame:
    """Long-form per-epoch figures: version, epoch, metric, part (train/validation), value.

    Args:
        metadata: each version's metadata, by version id.

    Returns:
        One row per version, epoch and recorded figure.
    """
    rows = []
    for version, meta in metadata.items():
        for key, values in meta.get("history", {}).items():
            part = "validation" if key.startswith("val_") else "train"
            metric = key.removeprefix("val_")
            rows += [
                {"version": version, "epoch": i + 1, "metric": metric, "part": part, "value": v}
                for i, v in enumerate(values)
            ]
    return pd.DataFrame(rows, columns=["version", "epoch", "metric", "part", "value"])


def class_metrics_frame(metadata: dict[str, dict]) -> pd.DataFrame:
    """Long-form test precision, recall and F1: version, class, metric, value."""
    rows = [
        {"version": version, "class": label, "metric": metric, "value": figures[metric]}
        for version, meta in metadata.items()
        for label, figures in meta.get("metrics", {}).get("per_class", {}).items()
        for metric in ("precision", "recall", "f1")
    ]
    return pd.DataFrame(rows, columns=["version", "class", "metric", "value"])


def _field(meta: dict, path: tuple[str, ...]):
    for key in path:
        meta = meta.get(key, {}) if isinstance(meta, dict) else {}
    return meta if meta != {} else None


def differences(a: dict, b: dict) -> pd.DataFrame:
    """The parameters and data facts where two versions differ.

    Args:
        a: the first version's metadata.
        b: the second version's metadata.

    Returns:
        Columns: field, a, b (values as text); only the fields that differ.
    """
    fields = [("params", name) for name in sorted({*a.get("params", {}), *b.get("params", {})})]
    rows = []
    for path in [*COMPARED_FIELDS, *fields]:
        left, right = _field(a, path), _field(b, path)
        if left != right:
            rows.append({"field": ".".join(path), "a": str(left), "b": str(right)})
    return pd.DataFrame(rows, columns=["field", "a", "b"])


def disagreements(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """The test texts one version gets right and the other wrong.

    Two versions trained on the same file and split seed were tested on the same rows,
    which are compared one to one. Otherwise the texts both were tested on are compared,
    and the note says so.

    Args:
        a: the first version's test predictions (pipeline.analysis.predictions).
        b: the second's.

    Returns:
        {"only_a": rows right by a and wrong by b, "only_b": the reverse, "compared": rows
        compared, "note": "" or why fewer rows were compared}; the row frames have columns
        text, label, predicted_a, predicted_b.
    """
    same_rows = len(a) == len(b) and a["text"].tolist() == b["text"].tolist()
    if same_rows:
        joined = a[["text", "label"]].assign(
            predicted_a=a["predicted"].to_numpy(), predicted_b=b["predicted"].to_numpy()
        )
        note = ""
    else:
        left = a.drop_duplicates("text")[["text", "label", "predicted"]]
        right = b.drop_duplicates("text")[["text", "predicted"]]
        joined = left.merge(right, on="text", suffixes=("_a", "_b"))
        note = (
            "The two versions were tested on different rows (other data or split seed); "
            f"the {len(joined)} test texts they share are compared."
        )
    right_a = joined["predicted_a"] == joined["label"]
    right_b = joined["predicted_b"] == joined["label"]
    return {
        "only_a": joined.loc[right_a & ~right_b, SHOWN_COLUMNS].reset_index(drop=True),
        "only_b": joined.loc[right_b & ~right_a, SHOWN_COLUMNS].reset_index(drop=True),
        "compared": len(joined),
        "note": note,
    }
