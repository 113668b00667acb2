"""Which column holds the texts, when the user names none (Batch tab, scoring command)."""

import pandas as pd
import pytest

from pipeline.csvfile import check_text_column, guess_text_column, text_columns, to_csv_bytes
from pipeline.errors import DataError


def frame(**columns) -> pd.DataFrame:
    """A frame of strings, as read_csv returns one."""
    return pd.DataFrame({k: [str(v) for v in values] for k, values in columns.items()})


def test_a_numeric_first_column_is_never_the_text_column():
    data = frame(id=[1, 2, 3], tweet=["great debate", "what a mess", "who won?"])
    assert guess_text_column(data) == "tweet"


def test_the_column_with_the_longest_texts_wins():
    data = frame(
        user=["ann", "bob", "cy"],
        body=["a long tweet about the debate", "another long one here", "and a third text"],
        lang=["en", "en", "fr"],
    )
    assert guess_text_column(data) == "body"
    assert text_columns(data) == ["body", "user", "lang"]


def test_a_column_named_text_is_taken_when_it_holds_texts():
    data = frame(text=["short", "texts"], notes=["much longer notes here", "and here too"])
    assert guess_text_column(data) == "text"
    numeric = frame(text=["1", "2"], notes=["much longer notes here", "and here too"])
    assert guess_text_column(numeric) == "notes"


@pytest.mark.parametrize(
    "values", [["1", "2.5", "-3"], ["1e3", "+4", ".5"], ["1,234", "12", ""], ["", "", ""]]
)
def test_numeric_or_empty_columns_are_refused_with_the_reason(values):
    data = frame(id=values, tweet=["great debate", "what a mess", "who won?"])
    with pytest.raises(DataError) as error:
        check_text_column(data, "id", "tweets.csv")
    message = str(error.value)
    assert "'id'" in message and "tweets.csv" in message
    assert ("empty" if not any(values) else "only numbers") in message
    assert "Columns with texts: 'tweet'" in message


def test_a_file_without_any_text_column_is_refused():
    with pytest.raises(DataError, match="no column of texts"):
        guess_text_column(frame(id=[1, 2], score=[0.5, 0.7]), "numbers.csv")


def test_numbers_inside_texts_keep_a_column_textual():
    data = frame(id=[1, 2], tweet=["2", "Trump 2016!"])
    check_text_column(data, "tweet")  # one text is enough to make it a text column
    assert guess_text_column(data) == "tweet"


def test_a_mostly_empty_column_of_long_cells_does_not_outrank_the_texts():
    data = frame(
        id=[1, 2, 3, 4, 5],
        tweet=["great debate tonight", "what a mess", "who won?", "so proud of them", "boring"],
        reply_to=["", "", "", "in reply to a very long thread about the economy and taxes", ""],
    )
    assert guess_text_column(data) == "tweet"
    assert text_columns(data) == ["tweet", "reply_to"]


def test_formula_escaping_quotes_text_cells_only_and_keeps_numbers_and_gaps():
    # Numbers stay numbers, and a missing one stays an empty cell (never "nan"); a text cell
    # that a spreadsheet would run gets its apostrophe, a plain number in text does not.
    frame = pd.DataFrame({"text": ["=1+1", "-3.5"], "score": [float("nan"), -0.25], "n": [-3, 4]})
    assert to_csv_bytes(frame) == b"text,score,n\r\n'=1+1,,-3\r\n-3.5,-0.25,4\r\n"
