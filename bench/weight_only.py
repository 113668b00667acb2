"""Weights-only int8 and its LiteRT copy, on a saved `minilm+fasttext` version.

    python bench/weight_only.py --data data/Sentiment.csv [--version V]

The shipped pair's `minilm` member is Keras int8 (weights and, per call, activations),
and a LiteRT copy of its float network disagreed with it on 0.5 % of labels. This asks
whether one quantization can serve both paths. It scores every text of the data with:
- A: the saved pair, through its Keras serving path;
- B: the same pair with activation quantization turned off in every int8 layer
  (`inputs_quantizer = None`): weights-only int8, the same int8 weights;
- LiteRT: B's `minilm` network converted as it is (int8 weights kept) and run by the
  project's LiteRT path (recipes.lite.LiteTransformer: Python WordPiece, length batches),
  combined with the NumPy `fasttext` member.
It reports the label agreement and largest probability difference of each pair of them,
and the validation and test scores of each on the version's own split.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from pipeline import config, numpy_model  # noqa: E402
from pipeline.data import load_labelled_data, split_data  # noqa: E402
from pipeline.recipes import serving_forward  # noqa: E402
from pipeline.recipes.ensemble import NAME, combine  # noqa: E402
from pipeline.recipes.lite import LITE_FILE, LiteTransformer, to_tflite  # noqa: E402
from pipeline.registry import Registry  # noqa: E402


def agreement(first: np.ndarray, second: np.ndarray) -> str:
    same = (first.argmax(axis=1) == second.argmax(axis=1)).mean()
    largest = np.abs(first - second).max()
    return f"same label on {same:.2%}, largest probability difference {largest:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--models-dir", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--version")
    args = parser.parse_args()
    registry = Registry(args.models_dir)
    version = registry.resolve(args.version)
    meta = registry.metadata(version)
    if meta["architecture"] != NAME:
        sys.exit(f"version {version} is {meta['architecture']}, not {NAME}")
    model = registry.load_model(version)
    data = load_labelled_data(args.data)
    texts = list(data.frame["text"])
    started = time.perf_counter()
    scored = {"A": serving_forward(model, NAME)(texts)}
    print(f"A, the saved pair: {time.perf_counter() - started:.0f} s")
    minilm, fasttext = model.members
    layers = [x for x in minilm.network._flatten_layers() if getattr(x, "inputs_quantizer", None)]
    for layer in layers:
        layer.inputs_quantizer = None
    started = time.perf_counter()
    scored["B"] = serving_forward(model, NAME)(texts)
    print(f"B, weights-only int8 ({len(layers)} layers): {time.perf_counter() - started:.0f} s")
    flatbuffer = to_tflite(minilm.network, int8=False)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        # The project's LiteRT serving path; the member's cleaning and vocabulary are the
        # first of their kind in the pair's model.keras.
        lite_path = Path(folder, LITE_FILE)
        lite_path.write_bytes(flatbuffer)
        lite = LiteTransformer(registry.model_file(version), lite_path)
        members = [lite.predict_proba(texts)]
    members.append(numpy_model.from_keras(fasttext).predict_proba(texts))
    scored["LiteRT"] = combine(members, model.member_weights, model.temperature)
    print(f"LiteRT of B ({len(flatbuffer) / 1e6:.1f} MB): {time.perf_counter() - started:.0f} s")
    print(f"B against A: {agreement(scored['B'], scored['A'])}")
    print(f"LiteRT against B: {agreement(scored['LiteRT'], scored['B'])}")
    print(f"LiteRT against A: {agreement(scored['LiteRT'], scored['A'])}")
    splits = split_data(data, seed=meta["split"]["seed"])
    row_of = {text: i for i, text in enumerate(texts)}
    labels = np.asarray(meta["labels"])
    for part in ("validation", "test"):
        frame = getattr(splits, part)
        rows = [row_of[text] for text in frame["text"]]
        for name, probabilities in scored.items():
            predicted = labels[probabilities[rows].argmax(axis=1)]
            accuracy = accuracy_score(frame["label"], predicted)
            macro_f1 = f1_score(frame["label"], predicted, average="macro")
            print(f"{part} {name}: accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}")


if __name__ == "__main__":
    main()
