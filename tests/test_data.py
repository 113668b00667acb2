"""Loading, validation errors, the leakage-free split and the label order."""

import pandas as pd
import pytest

from pipeline.data import load_labelled_data, read_csv, split_data
from pipeline.errors import DataError
from pipeline.text import normalize_for_grouping


def write_rows(path, rows_per_class=12, labels=("Negative", "Neutral", "Positive"), **extra):
    rows = [
        {"text": f"tweet number {i} about {label}", "sentiment": label, **extra}
        for label in labels
        for i in range(rows_per_class)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_sample_data_loads_with_three_classes_in_fixed_order(sample_csv):
    data = load_labelled_data(sample_csv)
    assert data.labels == ["negative", "neutral", "positive"]
    assert len(data.frame) >= 600
    counts = data.frame["label"].value_counts()
    assert counts.min() / counts.max() > 0.8  # roughly balanced


def test_label_order_does_not_depend_on_row_order(tmp_path):
    a = write_rows(tmp_path / "a.csv", labels=("Positive", "Negative", "Neutral"))
    b = write_rows(tmp_path / "b.csv", labels=("Neutral", "Positive", "Negative"))
    assert load_labelled_data(a).labels == load_labelled_data(b).labels
    assert load_labelled_data(a).labels == ["negative", "neutral", "positive"]


def test_labels_are_normalised_for_spaces_and_case(tmp_path):
    path = write_rows(tmp_path / "d.csv", labels=("Positive", " positive ", "NEGATIVE", "negative"))
    assert load_labelled_data(path).labels == ["negative", "positive"]


def test_any_csv_works_with_named_columns(tmp_path):
    frame = pd.DataFrame(
        {"review": [f"text {i}" for i in range(40)], "stars": ["good", "bad"] * 20}
    )
    frame.to_csv(tmp_path / "r.csv", index=False)
    data = load_labelled_data(tmp_path / "r.csv", text_column="review", label_column="stars")
    assert data.labels == ["bad", "good"]
    assert data.describe()["class_counts"] == [20, 20]


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_labelled_data(tmp_path / "nope.csv")


def test_binary_file_is_not_a_csv(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(DataError, match="binary"):
        load_labelled_data(path)


def test_malformed_csv_is_reported(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('text,sentiment\n"unclosed quote,positive\n', encoding="utf-8")
    with pytest.raises(DataError, match="not a readable CSV"):
        load_labelled_data(path)


def test_empty_file_is_reported(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_labelled_data(path)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-8-sig", "cp1252"])
def test_common_encodings_decode(tmp_path, encoding):
    path = tmp_path / "enc.csv"
    text = "text,sentiment\n" + "".join(
        f"caf\u00e9 na\u00efve {i},{'pos' if i % 2 else 'neg'}\n" for i in range(30)
    )
    path.write_bytes(text.encode(encoding))
    frame, _, _ = read_csv(path)
    assert frame["text"][0] == "caf\u00e9 na\u00efve 0"


def test_missing_column_lists_the_columns_present(tmp_path):
    path = write_rows(tmp_path / "d.csv")
    with pytest.raises(DataError, match=r"no column 'tweet'.*Columns present: text, sentiment"):
        load_labelled_data(path, text_column="tweet")


def test_duplicate_columns_are_reported(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("text,text,sentiment\na,b,pos\n", encoding="utf-8")
    with pytest.raises(DataError, match="duplicate column"):
        load_labelled_data(path)


def test_empty_texts_and_labels_are_dropped_and_counted(tmp_path):
    path = write_rows(tmp_path / "d.csv")
    frame = pd.read_csv(path)
    extra = pd.DataFrame(
        {"text": ["", "   ", "has text"], "sentiment": ["Positive", "Negative", ""]}
    )
    pd.concat([frame, extra]).to_csv(path, index=False)
    data = load_labelled_data(path)
    assert data.rows_dropped == 3
    assert len(data.frame) == len(frame)


def test_a_single_class_is_refused(tmp_path):
    path = write_rows(tmp_path / "d.csv", labels=("Positive",))
    with pytest.raises(DataError, match="only one class"):
        load_labelled_data(path)


def test_a_class_too_small_to_split_is_named(tmp_path):
    path = write_rows(tmp_path / "d.csv")
    frame = pd.read_csv(path)
    tiny = pd.DataFrame({"text": ["odd one", "odd two"], "sentiment": ["Mixed", "Mixed"]})
    pd.concat([frame, tiny]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"'mixed' \(2\)"):
        load_labelled_data(path)


def test_more_rows_than_the_cap_are_refused(tmp_path):
    path = write_rows(tmp_path / "d.csv", rows_per_class=20)
    with pytest.raises(DataError, match="more than 50 rows"):
        load_labelled_data(path, max_rows=50)
    assert len(load_labelled_data(path, max_rows=60).frame) == 60


def _group_keys(frame):
    return set(frame["text"].map(normalize_for_grouping))


def assert_no_leak(splits):
    train, val, test = (_group_keys(f) for f in (splits.train, splits.validation, splits.test))
    assert not train & val
    assert not train & test
    assert not val & test


def test_split_keeps_retweets_on_one_side(sample_csv):
    data = load_labelled_data(sample_csv)
    splits = split_data(data, seed=7)
    assert_no_leak(splits)
    assert sum(splits.sizes.values()) == len(data.frame)
    # The part sizes each version's metadata records, by name.
    parts = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    assert splits.sizes == {name: len(part) for name, part in parts.items()}
    for part in parts.values():  # rows of the data as they were, numbered afresh
        assert list(part.columns) == list(data.frame.columns)
        assert part.index.equals(pd.RangeIndex(len(part)))
    # The sample has retweets of its own rows, so grouping really had work to do.
    assert data.frame["text"].map(normalize_for_grouping).duplicated().any()


def test_split_is_stratified_and_repeatable(sample_csv):
    data = load_labelled_data(sample_csv)
    first, again = split_data(data, seed=3), split_data(data, seed=3)
    for name in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    for part in (first.train, first.validation, first.test):
        shares = part["label"].value_counts(normalize=True)
        assert set(shares.index) == set(data.labels)
        assert shares.max() - shares.min() < 0.15
    shares = {name: size / len(data.frame) for name, size in first.sizes.items()}
    assert shares == pytest.approx({"train": 0.7, "validation": 0.15, "test": 0.15}, abs=0.03)


def test_split_of_the_kaggle_data_has_no_leak(full_data):
    data = load_labelled_data(full_data)
    assert len(data.frame) == 13_871
    assert_no_leak(split_data(data, seed=42))
