"""Label checks: likely label errors, conflicting duplicates, corrected copies, CLI and UI."""

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_PARAMS
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.__main__ import main
from pipeline.analysis import corrections, label_issues
from pipeline.analysis.corrections import DROP, data_columns, write_corrected_copy
from pipeline.analysis.duplicates import NEAR, SAME_TEXT, find_conflicting_duplicates
from pipeline.analysis.label_issues import ISSUE_COLUMNS, cached_label_issues, find_label_issues
from pipeline.cli import run
from pipeline.data import load_labelled_data
from pipeline.errors import DataError
from ui.data_tab import UPLOAD
from ui.label_issues_view import SAVE_KEY, TOGGLE_KEY, editor_key

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
FLIPPED_ROWS = 35
FLIP = {"Negative": "Positive", "Positive": "Negative", "Neutral": "Negative"}
# Conflicting copies: one tweet retweeted with another link, one cut short by a retweet.
CONFLICTS = [
    ("RT @abc: The moderators ran this debate really well tonight http://t.co/x1", "Positive"),
    ("the moderators ran this debate really well tonight", "Negative"),
    ("Rubio gave a strong, clear answer on the economy and on jobs in Ohio #GOPDebate", "Positive"),
    ("RT @xyz: Rubio gave a strong, clear answer on the economy and on jobs in O…", "Neutral"),
    ("Same words, same label, twice over", "Neutral"),
    ("same words, same label, twice over", "Neutral"),
]  # fmt: skip


@pytest.fixture(autouse=True)
def own_folders(tmp_path, monkeypatch):
    """Caches and corrected copies go to the test's folder, never to .cache/ or data/."""
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(config.CORRECTED_DATA_DIR_ENV, str(tmp_path / "corrected"))
    return tmp_path


@pytest.fixture
def flipped(tmp_path) -> tuple:
    """data/sample.csv with FLIPPED_ROWS labels changed on purpose: path, rows, true labels."""
    frame = pd.read_csv(config.SAMPLE_DATA_PATH, dtype=str, keep_default_na=False)
    rows = np.random.default_rng(0).choice(len(frame), FLIPPED_ROWS, replace=False)
    truth = frame.loc[rows, "sentiment"].str.lower()
    frame.loc[rows, "sentiment"] = frame.loc[rows, "sentiment"].map(FLIP)
    path = tmp_path / "flipped.csv"
    frame.to_csv(path, index=False)
    return path, rows, truth


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_most_flipped_labels_are_found_and_suggested_back(flipped):
    path, rows, truth = flipped
    data = load_labelled_data(path)
    issues = find_label_issues(data.frame, data.labels)
    assert list(issues.columns) == ISSUE_COLUMNS
    found = issues[issues["row"].isin(rows)].set_index("row")
    assert len(found) >= 0.7 * FLIPPED_ROWS
    assert (found["suggested"] == truth.reindex(found.index)).mean() >= 0.75
    assert (issues["given"] == data.frame["label"].to_numpy()[issues["row"]]).all()
    assert (issues["suggested"] != issues["given"]).all()
    assert issues["label_quality"].is_monotonic_increasing  # worst first
    assert np.allclose(issues["label_quality"], issues["given_probability"])
    assert (issues["suggested_probability"] > issues["given_probability"]).mean() > 0.9


def test_label_issues_are_cached_on_disk_by_the_data_and_settings(flipped, monkeypatch):
    data = load_labelled_data(flipped[0])
    first = cached_label_issues(data)
    assert list((config.cache_dir() / "label_issues").glob("*.csv"))

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(label_issues, "find_label_issues", fail)
    again = cached_label_issues(data)
    pd.testing.assert_frame_equal(first, again, check_exact=False)
    with pytest.raises(AssertionError, match="recomputed"):
        cached_label_issues(data, folds=4)  # other settings, another table


def test_too_few_distinct_texts_per_class_is_a_clear_data_error():
    frame = pd.DataFrame(
        {
            "text": [f"text {i}" for i in range(40)] + ["one", "two", "three"] * 4,
            "label": ["a", "b"] * 20 + ["c"] * 12,
        }
    )
    with pytest.raises(DataError, match=r"Too few distinct texts .* 'c' \(3\).* at least 5"):
        find_label_issues(frame, ["a", "b", "c"])


def test_duplicates_with_conflicting_labels_are_found_exact_and_near():
    sample = pd.read_csv(config.SAMPLE_DATA_PATH).head(100)
    extra = pd.DataFrame(CONFLICTS, columns=["text", "sentiment"])
    frame = pd.concat([sample, extra], ignore_index=True)
    frame = frame.rename(columns={"sentiment": "label"}).assign(label=lambda f: f.label.str.lower())
    groups = find_conflicting_duplicates(frame)
    by_group = {g: set(rows["row"]) for g, rows in groups.groupby("group")}
    assert sorted(by_group.values(), key=min) == [{100, 101}, {102, 103}]
    kinds = groups.groupby("group").agg(first=("row", "min"), kind=("kind", "first"))
    assert dict(zip(kinds["first"], kinds["kind"], strict=True)) == {100: SAME_TEXT, 102: NEAR}
    assert groups.groupby("group")["label"].nunique().min() > 1
    assert not groups["row"].isin([104, 105]).any()  # copies with one label are not conflicts


def test_no_conflicts_among_consistently_labelled_copies():
    frame = pd.DataFrame(
        {"text": [t for t, _ in CONFLICTS] * 2, "label": ["positive"] * 12}
    )  # fmt: skip
    assert find_conflicting_duplicates(frame).empty


def test_the_corrected_copy_changes_only_the_marked_rows(flipped):
    path, rows, truth = flipped
    before = sha256(path)
    relabel, drop = int(rows[0]), int(rows[1])
    copy = write_corrected_copy(path, {relabel: truth[relabel], drop: DROP})
    assert sha256(path) == before  # the original is untouched, byte for byte
    assert copy.path.parent == config.corrected_data_dir()
    assert copy.path.name.startswith("flipped.corrected-")
    original = pd.read_csv(path, dtype=str, keep_default_na=False)
    corrected = pd.read_csv(copy.path, dtype=str, keep_default_na=False)
    assert list(corrected.columns) == list(original.columns)
    expected = original.copy()
    expected.loc[relabel, "sentiment"] = truth[relabel].capitalize()  # the file's spelling
    expected = expected.drop(index=drop).reset_index(drop=True)
    pd.testing.assert_frame_equal(corrected, expected)
    assert (copy.relabelled, copy.dropped, copy.rows) == (1, 1, len(original) - 1)
    record = json.loads(copy.record.read_text())
    assert record["source"] == "flipped.csv" and record["source_sha256"] == before
    assert record["copy_sha256"] == sha256(copy.path)
    assert [(c["row"], c["action"], c["to"]) for c in record["changes"]] == sorted(
        [(relabel, "relabel", truth[relabel]), (drop, "drop", None)]
    )
    assert len(load_labelled_data(copy.path).frame) == len(original) - 1


def test_the_same_marks_give_the_same_copy_and_other_marks_another(flipped):
    path, rows, _ = flipped
    first = write_corrected_copy(path, {int(rows[0]): DROP})
    assert write_corrected_copy(path, {int(rows[0]): DROP}).path == first.path
    assert write_corrected_copy(path, {int(rows[1]): DROP}).path != first.path


def test_a_corrected_copy_never_replaces_its_source(flipped, monkeypatch):
    path, rows, _ = flipped
    before = sha256(path)
    monkeypatch.setenv(config.CORRECTED_DATA_DIR_ENV, str(path.parent))
    monkeypatch.setattr(corrections, "copy_name", lambda *args: path.name)
    with pytest.raises(DataError, match="Refusing to overwrite the original flipped.csv"):
        write_corrected_copy(path, {int(rows[0]): DROP})
    assert sha256(path) == before


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ({}, "Nothing is marked"),
        ({700: DROP}, "Row 700 is not in flipped.csv"),
        ({0: "angry"}, "cannot be relabelled to 'angry'"),
        ({row: DROP for row in range(700)}, "would not be usable as training data"),
    ],
)
def test_bad_marks_are_refused_and_nothing_is_written(flipped, marks, message):
    with pytest.raises(DataError, match=message):
        write_corrected_copy(flipped[0], marks)
    assert not config.corrected_data_dir().exists() or not any(
        config.corrected_data_dir().iterdir()
    )


def test_a_tiny_training_runs_on_the_corrected_copy(flipped, tmp_path):
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    path, rows, truth = flipped
    marks = {int(r): truth[r] for r in rows[:20]} | {int(r): DROP for r in rows[20:25]}
    copy = write_corrected_copy(path, marks)
    data = load_labelled_data(copy.path, *data_columns(copy.path))
    params = resolve_params({**TINY_PARAMS, "epochs": 1})
    metadata = train_and_save(data, params, Registry(tmp_path / "models"))
    assert metadata["data"]["name"] == copy.path.name
    assert metadata["data"]["rows_used"] == 700 - 5
    assert 0 <= metadata["metrics"]["accuracy"] <= 1


def test_the_cli_prints_the_worst_issues_as_csv_with_formulas_made_inert(flipped, capsys):
    path = flipped[0]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["text"] = "=" + frame["text"]  # every text would run as a spreadsheet formula
    frame.to_csv(path, index=False)
    assert main(["label-issues", "--data", str(path), "--top", "5"]) == 0
    captured = capsys.readouterr()
    printed = pd.read_csv(io.StringIO(captured.out), dtype={"text": str})
    assert list(printed.columns) == ISSUE_COLUMNS and len(printed) == 5
    assert printed["text"].str.startswith("'=").all()
    assert "likely label errors in 700 rows" in captured.err


def test_the_cli_explains_a_missing_label_column(flipped, capsys):
    argv = ["label-issues", "--data", str(flipped[0]), "--label-column", "mood"]
    assert run(main, argv) == 2
    assert "flipped.csv has no column 'mood'" in capsys.readouterr().err


# --- the Data tab ---------------------------------------------------------------------------


def open_data_tab(monkeypatch, models_dir, upload: bytes, password=None) -> AppTest:
    """The app with an upload chosen in the Data tab and the label checks turned on."""
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    if password:
        at.secrets["admin_password"] = password
    at.session_state["data_source"] = UPLOAD
    at.run()
    at.file_uploader(key="data_file").set_value(("upload.csv", upload, "text/csv")).run()
    if not any(toggle.key == TOGGLE_KEY for toggle in at.toggle):
        return at  # the upload was refused before the label checks
    return at.toggle(key=TOGGLE_KEY).set_value(True).run()


def tab(at: AppTest, label: str):
    return next(t for t in at.tabs if t.label == label)


def test_the_data_tab_shows_label_issues_and_saves_a_corrected_copy_listed_at_once(
    flipped, monkeypatch, app_models_dir, fresh_caches
):
    path, rows, truth = flipped
    extra = pd.DataFrame(CONFLICTS, columns=["text", "sentiment"])
    upload = pd.concat([pd.read_csv(path), extra]).to_csv(index=False).encode()
    at = open_data_tab(monkeypatch, app_models_dir, upload, password="s3cret")
    assert not at.exception
    data_tab = tab(at, "Data")
    editor = data_tab.data_editor[0]
    assert {"text", "given", "suggested", "action"} <= set(editor.value.columns)
    assert set(editor.value["action"]) == {"keep"}
    assert editor.value["row"].isin(rows).sum() >= 0.7 * FLIPPED_ROWS
    groups = next(d.value for d in data_tab.dataframe if "labels" in d.value.columns)
    kinds = {frozenset(map(int, g.positions.split(", "))): g.kind for g in groups.itertuples()}
    assert kinds[frozenset({700, 701})] == SAME_TEXT and kinds[frozenset({702, 703})] == NEAR
    assert all("," in labels for labels in groups["labels"])  # each group has 2+ labels
    assert at.button(key=SAVE_KEY).disabled  # no admin password typed yet

    at.text_input(key="admin_password_input").input("s3cret").run()
    key = editor_key(hashlib.sha256(upload).hexdigest(), "keep")
    at.session_state[key] = {
        "edited_rows": {0: {"action": "relabel"}, 1: {"action": "drop"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key=SAVE_KEY).click().run()
    assert not at.exception and not data_tab.error
    message = tab(at, "Data").success[0].value
    assert "1 relabelled, 1 dropped" in message and "Retrain tab" in message
    copies = list(config.corrected_data_dir().glob("upload.corrected-*.csv"))
    assert len(copies) == 1
    assert len(pd.read_csv(copies[0])) == len(pd.read_csv(io.BytesIO(upload))) - 1
    for key in ("data_source", "retrain_source"):  # the Data tab's own list too, at once
        choices = at.radio(key=key).options
        assert any(choice.endswith(copies[0].name) for choice in choices), key
    assert at.radio(key="data_source").value == UPLOAD  # the person's choice stays


def few_texts_per_class() -> bytes:
    """Class "c" has 12 rows but only 3 distinct texts: too few for 5 folds."""
    rows = [(f"text number {i}", "a" if i % 2 else "b") for i in range(40)]
    rows += [(text, "c") for text in ("one", "two", "three") for _ in range(4)]
    return pd.DataFrame(rows, columns=["text", "sentiment"]).to_csv(index=False).encode()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (few_texts_per_class(), "Too few distinct texts to look for label errors in class 'c'"),
        (b"text,mood\nGreat night,positive\n", "upload.csv has no column 'sentiment'"),
    ],
)
def test_the_data_tab_explains_bad_data_without_a_traceback(
    monkeypatch, app_models_dir, fresh_caches, upload, message
):
    at = open_data_tab(monkeypatch, app_models_dir, upload)
    assert not at.exception
    errors = [e.value for e in tab(at, "Data").error]
    assert len(errors) == 1 and message in errors[0].replace("\\", "")
