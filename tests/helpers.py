"""Helpers shared by several test modules."""

import os
import subprocess
import sys


def run_cli(*args, models_dir=None, timeout=300) -> subprocess.CompletedProcess:
    """Run `python ARGS` in the project folder, with SENTIMENT_MODELS_DIR set only if given."""
    from pipeline import config

    env = {**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT), "COLUMNS": "200"}
    env.pop(config.MODELS_DIR_ENV, None)
    if models_dir is not None:
        env[config.MODELS_DIR_ENV] = str(models_dir)
    return subprocess.run(
        [sys.executable, *args],
        cwd=config.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def record_rows_held(monkeypatch) -> list[int]:
    """Make pipeline.predict.score_frame note the rows of every frame it is given.

    Returns:
        The list it appends to: the rows held in memory at each step of a CSV scoring.
    """
    import pipeline.predict as predict

    held: list[int] = []
    real_score_frame = predict.score_frame

    def recording_score_frame(predictor, frame, column, on_progress=None):
        held.append(len(frame))
        return real_score_frame(predictor, frame, column, on_progress)

    monkeypatch.setattr(predict, "score_frame", recording_score_frame)
    return held


def make_tiny_encoder(folder) -> None:
    """Write a tiny randomly initialised BERT preset (same keras-hub classes as MiniLM).

    Two layers 32 wide and a WordPiece vocabulary of the sample data's words, so tests of
    the transformer recipes train in seconds and never load the 45 MB vendored weights.
    """
    import collections
    import json
    import re

    from pipeline import config
    from pipeline.backend import keras, keras_hub

    words = collections.Counter(
        word
        for line in config.SAMPLE_DATA_PATH.read_text(encoding="utf-8").lower().splitlines()
        for word in re.findall(r"[a-z]+", line)
    )
    characters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789!?.,:;#@&'-")
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + characters
    vocabulary += [f"##{c}" for c in characters] + [w for w, _ in words.most_common(400)]
    vocabulary = list(dict.fromkeys(vocabulary))
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=512,
    )  # fmt: skip
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    backbone.save_to_preset(str(folder))
    tokenizer.save_to_preset(str(folder))
    source = {"name": "tiny random BERT (tests)", "license": "n/a"}
    (folder / "source.json").write_text(json.dumps(source))


def wait_for_new_saved_version(page, panel, before: set[str], timeout: float = 240) -> str:
    """The version a Retrain job saved, once the tab shows a version not in `before`, and it
    alone: an earlier test's job may still show its result (the tab shows the server's last
    job), and a rerun keeps the old elements on the page until it ends."""
    import re
    import time

    from playwright.sync_api import expect

    results = panel.get_by_text(re.compile(r"Saved version \S+ in"))
    deadline = time.monotonic() + timeout
    version = None
    while version is None:
        assert time.monotonic() < deadline, "no new version was saved"
        shown = [re.search(r"Saved version (\S+) in", t) for t in results.all_inner_texts()]
        version = next((m.group(1) for m in shown if m and m.group(1) not in before), None)
        page.wait_for_timeout(200)
    expect(results).to_have_count(1, timeout=60_000)
    return version
