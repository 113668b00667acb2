"""Training speed: the default recipe against the tutorial's, timed in the same run.

    python bench/training.py --data data/Sentiment.csv

The tutorial's recipe (the `lstm` architecture: 10 epochs at batch 512, recurrent dropout,
which rules out fused kernels) is timed on 2 epochs and scaled to its 10; the default
recipe is timed in full, early stopping included. Both on the same leakage-free split.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data, split_data  # noqa: E402
from pipeline.params import default_params, resolve_params  # noqa: E402


def timed_fit(splits, labels, params) -> tuple[float, int]:
    """Seconds to adapt the vectorizer and fit, and the epochs run."""
    from pipeline.train import fit_model

    started = time.perf_counter()
    _, history = fit_model(splits, labels, params)
    return time.perf_counter() - started, len(history["loss"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.KAGGLE_DATA_PATH))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    data = load_labelled_data(args.data)
    splits = split_data(data, args.seed)
    default_seconds, default_epochs = timed_fit(
        splits, data.labels, resolve_params({"seed": args.seed})
    )
    tutorial = default_params("lstm")
    short = resolve_params({**tutorial, "epochs": 2, "patience": 0, "seed": args.seed})
    two_epochs, _ = timed_fit(splits, data.labels, short)
    tutorial_seconds = two_epochs / 2 * tutorial["epochs"]
    print(f"{data.source}: {splits.sizes['train']} training rows, 2 cores")
    print("| recipe | seconds | epochs |")
    print("|---|---|---|")
    print(f"| default (fasttext) | {default_seconds:.1f} | {default_epochs} |")
    print(
        f"| tutorial lstm, 2 epochs timed, scaled to {tutorial['epochs']} | "
        f"{tutorial_seconds:.1f} | {tutorial['epochs']} |"
    )
    print(f"\nthe default trains {tutorial_seconds / default_seconds:.1f}x faster")


if __name__ == "__main__":
    main()
