"""The hostile files of tests/test_hostile_files_*.py, generated as bytes; nothing is committed."""

import functools
import io
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from pipeline import config
from ui.batch_tab import MAX_BATCH_ROWS

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
PROB_COLUMNS = {"prob_negative", "prob_neutral", "prob_positive"}
DECODED = "caf\u00e9 na\u00efve"  # must survive a Latin-1 or UTF-16 file into every output
MILLION = 1_000_000


def labelled(
    rows_per_class: int = 12,
    labels: tuple[str, ...] = ("negative", "positive"),
    header: str = "text,sentiment",
    text: str = "tweet {i} about {label}",
    encoding: str = "utf-8",
) -> bytes:
    """A labelled CSV: `rows_per_class` rows of each label, under `header`, texts all distinct."""
    pairs = [label for label in labels for _ in range(rows_per_class)]
    rows = [f"{text.format(i=i, label=label.strip())},{label}" for i, label in enumerate(pairs)]
    return "\n".join([header, *rows, ""]).encode(encoding)


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tweets.csv", labelled().decode())
    return buffer.getvalue()


@functools.cache
def million_rows() -> bytes:
    """1,000,000 labelled rows (31 MB): under the upload cap, over the app's row caps."""
    rows = (f"tweet {i} of the debate,{('negative', 'positive')[i % 2]}" for i in range(MILLION))
    return ("text,sentiment\n" + "\n".join(rows) + "\n").encode()


@dataclass(frozen=True)
class Hostile:
    """A hostile file and what each entry point must make of it.

    `score` is for the CLI and the Batch tab, `train` for the Data and Retrain tabs and
    train.py: a fragment of the message that refuses the file, or None when it is read.
    """

    content: bytes | Callable[[], bytes]  # a function for files too big to build at import
    score: str | None
    train: str | None
    batch: str | None | bool = False  # the Batch tab differs from the CLI when not False
    rows: int | None = None  # rows a successful read yields
    shows: str | None = None  # text that must come through decoded

    def data(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content()

    @property
    def batch_expects(self) -> str | None:
        return self.score if self.batch is False else self.batch


BINARY = "looks like a binary file, not a CSV"
CASES = {
    "PNG image": Hostile(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), BINARY, BINARY),
    "zip archive": Hostile(zip_archive, BINARY, BINARY),
    "random bytes": Hostile(random.Random(0).randbytes(4096), BINARY, BINARY),
    "prose, not a CSV": Hostile(
        b"Dear team\nwe loved the debate, truly, all of it.\n",
        "not a readable CSV: line 2 has 3 fields but the header has 1",
        "not a readable CSV: line 2 has 3 fields but the header has 1",
    ),
    "Latin-1": Hostile(
        labelled(text=DECODED + " {i}", encoding="latin-1"), None, None, rows=24, shows=DECODED
    ),
    "UTF-16 with a BOM": Hostile(
        labelled(text=DECODED + " {i}", encoding="utf-16"), None, None, rows=24, shows=DECODED
    ),
    "no text column": Hostile(
        labelled(header="tweet,sentiment"),
        None,  # scoring guesses the column of texts (tweet), says so and lets the user change it
        "has no column 'text'. Columns present: tweet, sentiment.",
        rows=24,
    ),
    "no label column": Hostile(
        labelled(header="text,mood"),
        None,
        "has no column 'sentiment'. Columns present: text, mood.",
        rows=24,
    ),
    "duplicate column names": Hostile(
        b"text,text,sentiment\na,b,negative\n",
        "has duplicate column names: text. Rename them",
        "has duplicate column names: text. Rename them",
    ),
    "empty (0 bytes)": Hostile(b"", "is empty. It needs a header line", "is empty"),
    "blank lines only": Hostile(b"\r\n\n  \n", "is empty. It needs a header line", "is empty"),
    "header only": Hostile(
        b"text,sentiment\n", "has a header but no rows", "has no row with both a text and a label"
    ),
    "one row": Hostile(
        b"text,sentiment\nWORST SHOW EVER,negative\n",
        None,
        "has only one class ('negative') in column 'sentiment'. Training needs at least 2.",
        rows=1,
    ),
    "one row per class": Hostile(
        labelled(1),
        None,
        "Too few rows to split for class 'negative' (1), 'positive' (1): each class needs "
        f"at least {config.MIN_ROWS_PER_CLASS} rows",
        rows=2,
    ),
    "one class": Hostile(
        labelled(labels=("positive",)),
        None,
        "has only one class ('positive') in column 'sentiment'",
        rows=12,
    ),
    "labels with stray spaces and odd case": Hostile(
        labelled(6, labels=(" Positive ", "NEGATIVE", "positive", "  Negative")),
        None,
        None,
        rows=24,
    ),
    "unquoted comma in a text": Hostile(
        b"text,sentiment\nhello, world,positive\n",
        "line 2 has 3 fields but the header has 2. Put texts that contain commas in double quotes",
        "line 2 has 3 fields but the header has 2",
    ),
    "unclosed quote": Hostile(
        b'text,sentiment\nfine,negative\n"never closed,positive\n',
        "a double quote opened on line 3 is never closed",
        "a double quote opened on line 3 is never closed",
    ),
    "1,000,000 rows": Hostile(
        million_rows,
        None,
        f"has more than {config.MAX_TRAINING_ROWS:,} rows, the cap for training data",
        batch=f"has more than {MAX_BATCH_ROWS:,} rows, the Batch tab's cap",
        rows=MILLION,
    ),
}
# The CLI scores 1,000,000 rows with the real model in about 45 s, too slow for every run:
# test_the_cli_scores_a_million_rows_one_chunk_at_a_time covers it with a stub model.
CLI_CASES = [name for name in CASES if name != "1,000,000 rows"]
TRAIN_OK = [name for name, case in CASES.items() if case.train is None]


def shown(markdown: str) -> str:
    """The text a Markdown element shows: the app backslash-escapes data it quotes."""
    return re.sub(r"\\(.)", r"\1", markdown)
