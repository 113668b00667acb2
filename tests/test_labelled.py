"""The labelled set (pipeline.labelled) on a local folder, on fsspec's memory:// and on a
real S3 server (moto's, on localhost): every label saved at once, none lost or duplicated
when two annotators label at the same time, undo, one row per text, and the export."""

import shutil
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from test_object_store import BUCKET, s3_endpoint, s3_env  # noqa: F401 (fixtures)

from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.errors import DataError, RateLimited, StoreUnavailable
from pipeline.labelled import (
    labelled_csv,
    read_labelled_set,
    read_labels,
    save_label,
    training_rows,
    undo_label,
)
from pipeline.registry import Registry
from pipeline.registry.store import LABELS_DIR

TEXTS = [f"tweet number {i} about the debate" for i in range(40)]


@pytest.fixture(params=["local", "memory"])
def registry(request, tmp_path) -> Registry:
    if request.param == "local":
        return Registry(tmp_path / "models")
    return Registry(f"memory://labels-{time.time_ns()}/models")


def label(registry, text, value="Positive", annotator="ann", **more):
    return save_label(registry, text, value, annotator, "pool.csv", "0" * 64, **more)


def test_a_label_is_saved_with_its_text_annotator_time_pool_and_the_models_guess(registry):
    before = pd.Timestamp.now(tz="UTC")
    record = label(registry, "I love it", model_version="v1",
                   probabilities={"Negative": 0.2, "Positive": 0.8})  # fmt: skip
    (row,) = read_labelled_set(registry).frame.to_dict("records")
    assert row["text"] == "I love it" and row["label"] == "Positive"
    assert row["annotator"] == "ann" and row["pool"] == "pool.csv"
    assert row["pool_sha256"] == "0" * 64 and row["model_version"] == "v1"
    assert row["model_guess"] == "Positive" and row["model_probability"] == 0.8
    assert row["label_id"] == record["label_id"]
    created = pd.Timestamp(row["created"])
    assert created.tzname() == "UTC" and before <= created <= pd.Timestamp.now(tz="UTC")
    assert registry.versions() == []  # a label is never taken for a model version


def test_the_latest_label_of_a_text_wins_and_disagreements_are_counted(registry):
    label(registry, "RT @someone: Great debate http://t.co/x", "Positive", "ann")
    label(registry, "great   debate", "Negative", "bob")  # the same text, normalised
    label(registry, "boring", "Negative", "ann")
    label(registry, "boring", " negative", "bob")  # agreement: no conflict
    labelled = read_labelled_set(registry)
    assert labelled.labels_given == 4 and labelled.texts == 2 and labelled.conflicts == 1
    rows = labelled.frame
    assert rows["text"].tolist() == ["great   debate", "boring"]  # the latest of each text
    assert rows["label"].tolist() == ["Negative", " negative"]  # as given
    assert rows["annotator"].tolist() == ["bob", "bob"]
    assert rows["times_labelled"].tolist() == [2, 2]
    assert rows["conflict"].tolist() == [True, False]
    assert labelled.stale is None


def test_undo_removes_the_annotators_last_label_and_never_anothers(registry):
    first = label(registry, "one", annotator="ann")
    label(registry, "two", annotator="bob")
    last = label(registry, "three", annotator="ann")
    assert undo_label(registry, "ann")["label_id"] == last["label_id"]
    assert read_labelled_set(registry).frame["text"].tolist() == ["one", "two"]
    bobs = read_labelled_set(registry).frame.query("annotator == 'bob'")["label_id"].item()
    with pytest.raises(DataError, match="another annotator"):
        undo_label(registry, "ann", bobs)
    assert undo_label(registry, "ann", first["label_id"])["text"] == "one"
    assert undo_label(registry, "ann") is None  # nothing of ann's left
    assert read_labelled_set(registry).frame["text"].tolist() == ["two"]


@pytest.mark.parametrize(
    ("text", "value", "annotator", "message"),
    [
        ("fine", "Positive", "  ", "Type your name"),
        ("fine", "Positive", "x" * 61, "over 60 characters"),
        ("   ", "Positive", "ann", "empty text"),
        ("fine", "", "ann", "label is empty"),
    ],
)
def test_a_label_without_a_text_a_label_or_an_annotator_is_refused(
    registry, text, value, annotator, message
):
    with pytest.raises(DataError, match=message):
        save_label(registry, text, value, annotator, "pool.csv")
    assert read_labels(registry)[0] == []


def test_the_set_holds_at_most_its_cap(registry, monkeypatch):
    monkeypatch.setenv("SENTIMENT_LABELS_TOTAL", "2")
    label(registry, "one")
    label(registry, "two")
    with pytest.raises(RateLimited, match="full"):
        label(registry, "three")


def test_the_export_is_a_labelled_csv_training_reads(registry, tmp_path):
    for i, text in enumerate(TEXTS[:24]):
        label(registry, text, ["Negative", "Positive"][i % 2])
    label(registry, "=1+2 is not a formula here", "Negative")
    path = tmp_path / "labels.csv"
    path.write_bytes(labelled_csv(read_labelled_set(registry)))
    data = load_labelled_data(path, "text", "label")
    assert len(data.frame) == 25 and data.labels == ["negative", "positive"]
    assert "=1+2 is not a formula here" in set(data.frame["text"])  # texts kept verbatim
    assert training_rows(read_labelled_set(registry)).columns.tolist() == ["text", "label"]


def label_all(registry_root: str, annotator: str, texts: list[str], errors: list) -> None:
    try:
        registry = Registry(registry_root)  # each annotator's own session
        for text in texts:
            label(registry, text, "Neutral", annotator)
    except Exception as exc:  # noqa: BLE001 (reported by the test)
        errors.append(exc)


def check_every_label_once(registry, annotators, texts=TEXTS) -> None:
    records, _ = read_labels(registry)
    assert len(records) == len(texts) * len(annotators)
    assert len({r["label_id"] for r in records}) == len(records)
    given = sorted((r["annotator"], r["text"]) for r in records)
    assert given == sorted((a, t) for a in annotators for t in texts)
    labelled = read_labelled_set(registry)
    assert labelled.texts == len(texts) and labelled.conflicts == 0
    assert set(labelled.frame["times_labelled"]) == {len(annotators)}


def test_two_annotators_labelling_the_same_pool_at_once_lose_and_duplicate_nothing(registry):
    errors: list = []
    threads = [
        threading.Thread(target=label_all, args=(str(registry.root), name, TEXTS, errors))
        for name in ("ann", "bob")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    check_every_label_once(registry, ["ann", "bob"])


LABEL_IN_A_PROCESS = """
import sys
sys.path.insert(0, "tests")
from test_labelled import TEXTS, label_all
errors = []
label_all(sys.argv[1], sys.argv[2], TEXTS, errors)
sys.exit(repr(errors) if errors else 0)
"""


def test_two_processes_labelling_one_folder_at_once_lose_and_duplicate_nothing(tmp_path):
    root = tmp_path / "models"
    processes = [
        subprocess.Popen([sys.executable, "-c", LABEL_IN_A_PROCESS, str(root), name],
                         cwd=config.PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
        for name in ("ann", "bob")
    ]  # fmt: skip
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    check_every_label_once(Registry(root), ["ann", "bob"])


def test_two_annotators_on_s3_at_once_and_a_reboot_loses_nothing(s3_env, tmp_path, monkeypatch):  # noqa: F811
    url, texts = s3_env["url"], TEXTS[:15]  # each S3 request costs, on moto in this process
    errors: list = []
    threads = [
        threading.Thread(target=label_all, args=(url, name, texts, errors))
        for name in ("ann", "bob")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listed = s3_env["client"].list_objects_v2(Bucket=BUCKET, Prefix=f"{s3_env['prefix']}/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert len(keys) == 2 * len(texts)
    assert all(k.startswith(f"{s3_env['prefix']}/{LABELS_DIR}/") for k in keys)
    # A reboot: this machine's disk (the registry's local cache) is gone.
    shutil.rmtree(config.cache_dir(), ignore_errors=True)
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "new-disk"))
    check_every_label_once(Registry(url), ["ann", "bob"], texts)
    assert undo_label(Registry(url), "bob")["text"] == texts[-1]
    assert read_labelled_set(Registry(url)).labels_given == 2 * len(texts) - 1


def test_an_unreachable_store_says_so_and_keeps_no_label_it_could_not_save(
    s3_env,  # noqa: F811
    monkeypatch,
):
    import s3fs

    label(Registry(s3_env["url"]), "seen before the outage")
    assert read_labelled_set(Registry(s3_env["url"])).texts == 1  # cached here now
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    s3fs.S3FileSystem.clear_instance_cache()
    offline = read_labelled_set(Registry(s3_env["url"]))
    assert offline.texts == 1 and "cannot be reached" in offline.stale
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        label(Registry(s3_env["url"]), "given during the outage")


def test_a_queue_labels_skips_undoes_and_passes_over_texts_labelled_meanwhile(
    tmp_path, tiny_models_dir
):
    from pipeline.active import pick_texts
    from pipeline.active.queue import LabelQueue
    from pipeline.predict import load_predictor

    predictor = load_predictor(tiny_models_dir)
    pool = pd.DataFrame({"text": TEXTS[:8]})
    picked, summary = pick_texts(predictor, pool, "text", 5, "margin")
    queue = LabelQueue.from_picks(picked, summary, predictor.labels, "pool.csv", "ab" * 32)
    registry = Registry(tmp_path / "models")
    assert queue.texts == picked["text"].tolist() and queue.undo(registry, "ann") is None
    guess = queue.guess()
    assert list(guess) == predictor.labels and abs(sum(guess.values()) - 1) < 1e-4

    first = queue.give(registry, "negative", "ann")
    assert first["text"] == queue.texts[0] and first["model_version"] == predictor.version
    assert first["model_guess"] == max(guess, key=guess.get)
    assert first["model_probabilities"] == pytest.approx(guess, abs=1e-6)
    queue.skip()
    save_label(registry, queue.texts[3].upper(), "neutral", "bob", "pool.csv")  # a copy
    queue.give(registry, "positive", "ann")  # the third text
    queue.pass_labelled(read_labelled_set(registry).frame["text"])
    assert queue.position == 4 and queue.current == queue.texts[4]
    assert vars(queue.progress()) == {
        "done": 4, "total": 5, "labelled": 2, "skipped": 1, "by_others": 1
    }  # fmt: skip

    assert queue.undo(registry, "ann").position == 2  # the third text's label is removed
    assert queue.current == queue.texts[2] and queue.progress().by_others == 0
    assert sorted(read_labelled_set(registry).frame["annotator"]) == ["ann", "bob"]
    assert queue.undo(registry, "ann").label_id is None  # the skip: no label to remove
    assert queue.current == queue.texts[1] and read_labelled_set(registry).labels_given == 2
