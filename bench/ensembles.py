"""Ensembles of saved recipe probabilities: does combining two recipes beat each alone?

    python bench/compare_models.py --data data/Sentiment.csv --seeds 42 1 2 \\
        --candidates minilm fasttext --probabilities /tmp/probabilities
    python bench/ensembles.py /tmp/probabilities

For every pair of recipes or peers that compare_models saved, and weights 0.3 to 0.7, the
weighted arithmetic and geometric means of their probabilities are scored on the
validation and test parts of every seed's split. The table is sorted by the mean of
validation accuracy and macro-F1 (the figure the default is chosen on); test is reported,
not used for choosing.

The verdict: the best combination and the best single recipe, each chosen on validation,
compared on the test part (the mean of accuracy and macro-F1): at least 1.00x, or
combining does not pay.
"""

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.record import Figure, Reference, Run, at_least  # noqa: E402

PARTS = ("validation", "test")
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
SKIP = ("VADER lexicon",)  # one-hot votes without probabilities to average


def scores(probabilities: np.ndarray, truth: np.ndarray, labels: list[str]) -> tuple:
    predicted = np.asarray(labels)[probabilities.argmax(axis=1)]
    return accuracy_score(truth, predicted), f1_score(truth, predicted, average="macro")


def combine(first: np.ndarray, second: np.ndarray, weight: float, kind: str) -> np.ndarray:
    if kind == "mean":
        return weight * first + (1 - weight) * second
    logs = weight * np.log(first + 1e-9) + (1 - weight) * np.log(second + 1e-9)
    return np.exp(logs - logs.max(axis=1, keepdims=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="compare_models.py --probabilities output")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    seeds = sorted(Path(args.folder).glob("seed-*.npz"))
    if not seeds:
        sys.exit(f"no seed-*.npz files in {args.folder}")
    rows: dict[str, list] = {}
    for path in seeds:
        saved = np.load(path, allow_pickle=False)
        labels = saved["labels"].tolist()
        names = sorted({k.split("/", 1)[1] for k in saved.files if k.startswith("test/")})
        names = [n for n in names if n not in SKIP]
        candidates = {name: (name, name, 1.0, "mean") for name in names}
        for (a, b), weight, kind in itertools.product(
            itertools.combinations(names, 2), WEIGHTS, ("mean", "geometric")
        ):
            candidates[f"{kind} {weight:.1f} x {a} + {1 - weight:.1f} x {b}"] = (a, b, weight, kind)
        for label, (a, b, weight, kind) in candidates.items():
            figures = ()
            for part in PARTS:
                combined = combine(saved[f"{part}/{a}"], saved[f"{part}/{b}"], weight, kind)
                figures += scores(combined, saved[f"{part}_labels"], labels)
            rows.setdefault(label, []).append(figures)
    table = sorted(
        ((name, np.mean(r, axis=0)) for name, r in rows.items() if len(r) == len(seeds)),
        key=lambda row: -(row[1][0] + row[1][1]),
    )
    print(f"{len(seeds)} seeds ({', '.join(p.stem for p in seeds)}), sorted by validation mean")
    print("| combination | val accuracy | val macro-F1 | test accuracy | test macro-F1 |")
    print("|---|---|---|---|---|")
    singles = [row for row in table if " x " not in row[0]]
    for name, m in table[: args.top] + [r for r in singles if r not in table[: args.top]]:
        print(f"| {name} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.3f} |")
    notes = [f"{len(seeds)} seeds ({', '.join(p.stem for p in seeds)}) of {args.folder}; "
             f"{len(singles)} recipes and peers combined in pairs."]  # fmt: skip
    run.write(verdict_figures(table), notes=notes)


def verdict_figures(table: list[tuple[str, np.ndarray]]) -> list[Figure]:
    """The best combination against the best single recipe, each chosen on validation.

    Args:
        table: (name, mean [val accuracy, val macro-F1, test accuracy, test macro-F1]),
            best validation mean first; single recipes have no " x " in their name.
    """
    combinations = [row for row in table if " x " in row[0]]
    if not combinations:  # one recipe: nothing to combine
        return []
    best, single = combinations[0], next(row for row in table if " x " not in row[0])
    reference = f"best single on validation ({single[0]})"

    def summary(m: np.ndarray) -> dict:
        return {
            "validation score (mean of accuracy and macro-F1)": (m[0] + m[1]) / 2,
            "test accuracy": m[2],
            "test macro-F1": m[3],
            "test score (mean of accuracy and macro-F1)": (m[2] + m[3]) / 2,
        }

    mine, theirs = summary(best[1]), summary(single[1])
    return [
        Figure(f"best combination on validation ({best[0]}): {name}", value, "",
               Reference(reference, theirs[name]), at_least(1.0) if "test score" in name else None)
        for name, value in mine.items()
    ]  # fmt: skip


if __name__ == "__main__":
    main()
