"""Feedback rows: appended safely from many threads, read back intact."""

import threading

import pytest

from pipeline.errors import DataError
from pipeline.feedback import COLUMNS, read_feedback, record_feedback


def test_no_feedback_reads_as_an_empty_table(tmp_path):
    frame = read_feedback(tmp_path / "none.csv")
    assert frame.empty and list(frame.columns) == COLUMNS


def test_awkward_texts_round_trip(tmp_path):
    path = tmp_path / "f.csv"
    text = 'He said "no", then\nleft; =SUM(A1) <b>x</b>'
    record_feedback(text, "positive", "negative", "v1", path)
    row = read_feedback(path).iloc[0]
    assert (row["text"], row["predicted_label"], row["correct_label"]) == (
        text, "positive", "negative"
    )  # fmt: skip


def test_empty_text_is_refused(tmp_path):
    with pytest.raises(DataError):
        record_feedback("   ", "positive", "negative", "v1", tmp_path / "f.csv")


def test_concurrent_writers_lose_and_mangle_nothing(tmp_path):
    path = tmp_path / "f.csv"
    threads, per_thread = 16, 25

    def write(worker):
        for i in range(per_thread):
            record_feedback(
                f"worker {worker} row {i}, with a comma", "neutral", "positive", "v", path
            )

    pool = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    frame = read_feedback(path)
    assert len(frame) == threads * per_thread
    expected = {
        f"worker {w} row {i}, with a comma" for w in range(threads) for i in range(per_thread)
    }
    assert set(frame["text"]) == expected
    assert path.read_text().count("timestamp,text") == 1
