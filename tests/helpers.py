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
