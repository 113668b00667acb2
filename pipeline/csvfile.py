"""Reading any CSV file or upload (its encoding, a header check, errors a person can act on), and
writing CSV that a spreadsheet opens safely.

Whole reads (the dashboard, training) and chunked reads (the scoring CLI) share these
rules, so every entry point refuses the same hostile files with the same words:

- the encoding is found first (byte-order mark, else UTF-8, else Windows-1252 / Latin-1),
  reading in blocks; a NUL character means a binary file, not a CSV;
- the header must have distinct column names (surrounding spaces do not count);
- a row with more fields than the header is refused with its line number, rather than
  pandas' default of silently turning the first column into the index and shifting the
  others (a trailing comma on each row would otherwise put the labels in the text column).
"""

import codecs
import hashlib
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from pipeline.errors import DataError

# Encodings tried in order after the byte-order marks; latin-1 decodes any byte, so it is last.
FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
BLOCK_SIZE = 1 << 20
_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
# Columns listed in a "no column" message, and characters shown of each name.
SHOWN_COLUMNS, SHOWN_NAME_CHARS = 20, 40
# The column of texts is guessed from this many rows when the user names none.
GUESS_ROWS = 1_000
# Cells that read as a number: an id, a count, a score ("12", "-3.5", "1e3", "1,234").
_NUMBER = r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]?\.\d+"

CsvSource = str | Path | bytes
# Writing: a cell a spreadsheet would run as a formula starts with one of these, unless it is
# a plain number ("-3.5").
FORMULA_START = r"[=+\-@\t\r]"
PLAIN_NUMBER = r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
# RFC 4180 line ends. They also make the csv writer quote a cell holding a bare CR: with
# "\n" alone, Python 3.11 writes such a cell unquoted and readers split the row there.
CSV_LINE_END = "\r\n"


def source_name(source: CsvSource, name: str | None = None) -> str:
    """How to call a source in messages: `name` if given, else the file name."""
    if name:
        return name
    return "The uploaded file" if isinstance(source, bytes) else Path(source).name


def _open_binary(source: CsvSource) -> BinaryIO:
    """The source as a binary stream; a missing or unreadable file is a DataError."""
    if isinstance(source, bytes):
        return io.BytesIO(source)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"Data file not found: {path}. Check the path, or see data/README.md.")
    try:
        return open(path, "rb")  # noqa: SIM115  the caller closes it
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror}.") from exc


def _blocks(source: CsvSource, size: int = BLOCK_SIZE) -> Iterator[bytes | memoryview]:
    """A file's or a buffer's bytes in blocks, so no second copy of a large one is made."""
    if isinstance(source, bytes):
        view = memoryview(source)
        for start in range(0, len(view), size):
            yield view[start : start + size]
        return
    with _open_binary(source) as handle:
        while block := handle.read(size):
            yield block


def detect_encoding(source: CsvSource, name: str = "The file") -> str:
    """Find a file's encoding: a byte-order mark, else UTF-8, else a Western fallback.

    The file is read in blocks, so a large one is never held in memory twice.

    Args:
        source: a path, or a file's bytes.
        name: how to call the file in error messages.

    Returns:
        An encoding name that decodes the whole file.
    """
    head = bytes(next(_blocks(source, 4), b""))
    boms = [enc for bom, enc in _BOMS if head.startswith(bom)]
    for encoding in boms or FALLBACK_ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for block in _blocks(source):
                if "\x00" in decoder.decode(block):
                    raise DataError(
                        f"{name} looks like a binary file, not a CSV. "
                        "Use a comma-separated text file."
                    )
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise DataError(f"{name} could not be decoded as {', '.join(boms)}. Save it as UTF-8.")


def _describe(exc: Exception) -> str:
    """pandas' parser message, said in terms of the file where we can."""
    text = str(exc).strip()
    counts = _FIELD_COUNT.search(text)
    if counts:
        expected, line, saw = counts.groups()
        return (
            f"line {line} has {saw} fields but the header has {expected}. "
            "Put texts that contain commas in double quotes."
        )
    quote = _OPEN_QUOTE.search(text)
    if quote:
        # pandas counts rows from 0 at the header; people count lines from 1.
        return f"a double quote opened on line {int(quote.group(1)) + 1} is never closed."
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return first_line.removeprefix("Error tokenizing data. C error: ")


@contextmanager
def _csv_errors(name: str) -> Iterator[None]:
    """Turn pandas' parsing failures inside the block into a DataError for `name`."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{name} is empty. It needs a header line and at least one row.") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{name} is not a readable CSV: {_describe(exc)}") from exc


def _read_header(stream: BinaryIO, encoding: str, name: str) -> list[str]:
    """The column names, checked; the stream is left at its start.

    The first data row is read with the header, so one wider than the header is refused
    here (pandas would otherwise take its first field as the index).
    """
    with _csv_errors(name):
        head = pd.read_csv(
            stream, encoding=encoding, header=None, nrows=2, dtype=str, keep_default_na=False
        )
    stream.seek(0)
    names = [str(cell).strip() for cell in head.iloc[0]]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise DataError(
            f"{name} has duplicate column names: {', '.join(duplicates)}. "
            "Rename them so each column has its own name."
        )
    return [n or f"Unnamed: {i}" for i, n in enumerate(names)]


def _read_options(encoding: str, names: list[str]) -> dict:
    """pd.read_csv options: every cell a string, "" for empty, our checked header."""
    return {
        "encoding": encoding,
        "header": 0,
        "names": names,
        "dtype": str,
        "keep_default_na": False,
        "index_col": False,
    }


def _shorten(text: str) -> str:
    """A column name fit for a one-line message: control characters shown, long ones cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= SHOWN_NAME_CHARS else text[: SHOWN_NAME_CHARS - 1] + "…"


def require_columns(frame: pd.DataFrame, columns: list[str], name: str = "The file") -> None:
    """Raise a DataError naming the columns that are present if any wanted one is missing.

    Args:
        frame: the parsed CSV (only its columns are used).
        columns: the column names that must exist.
        name: how to call the file in error messages.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = [_shorten(str(c)) for c in frame.columns[:SHOWN_COLUMNS]]
        more = len(frame.columns) - len(shown)
        present = ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")
        raise DataError(
            f"{name} has no column {', '.join(map(repr, missing))}. Columns present: {present}."
        )


def column_problem(frame: pd.DataFrame, column: str) -> str | None:
    """Why a column cannot be the texts to classify, or None when it can.

    Args:
        frame: the parsed CSV (cells are strings; see `read_csv`).
        column: one of its columns.

    Returns:
        "is empty" or "holds only numbers (…)", to follow the column's name in a message.
    """
    cells = frame[column].astype(str).str.strip()
    filled = cells[cells != ""]
    if filled.empty:
        return "is empty"
    if filled.str.fullmatch(_NUMBER).all():
        examples = ", ".join(_shorten(v) for v in filled.head(3))
        return f"holds only numbers (such as {examples}), not texts"
    return None


def check_text_column(frame: pd.DataFrame, column: str, name: str = "The file") -> None:
    """Refuse a text column that is missing, empty or numeric, with a message saying so.

    Args:
        frame: the parsed CSV (or its first rows).
        column: the chosen text column.
        name: how to call the file in messages.

    Raises:
        DataError: naming the column, what is wrong, and the columns that would do.
    """
    require_columns(frame, [column], name)
    problem = column_problem(frame, column)
    if problem:
        usable = text_columns(frame)
        hint = (
            f"Columns with texts: {', '.join(map(repr, usable))}."
            if usable
            else "No column of this file holds texts."
        )
        raise DataError(f"Column {_shorten(column)!r} of {name} {problem}. {hint}")


def text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that can hold texts, longest texts first (by median length, then mean).

    Empty cells count as length 0, so a mostly empty column (a note on a few rows, a
    reply-to field) does not outrank the texts because its few cells are long.

    Args:
        frame: the parsed CSV (or its first rows).

    Returns:
        Every column that is neither empty nor numeric, in order of preference.
    """
    usable = [str(c) for c in frame.columns if column_problem(frame, c) is None]

    def length(column: str) -> tuple[float, float]:
        lengths = frame[column].astype(str).str.strip().str.len()
        return float(lengths.median()), float(lengths.mean())

    return sorted(usable, key=length, reverse=True)


def guess_text_column(frame: pd.DataFrame, name: str = "The file", preferred: str = "text") -> str:
    """The column of texts when the user names none: `preferred` if it holds texts, else the
    column with the longest texts. Never a numeric or empty column.

    Callers show the guess and let the user change it (the Batch tab's selectbox, the
    scoring command's message and --text-column).

    Args:
        frame: the parsed CSV, or its first rows (GUESS_ROWS are enough).
        name: how to call the file in messages.
        preferred: the conventional name, taken when that column holds texts.

    Returns:
        A column name.

    Raises:
        DataError: no column holds texts.
    """
    usable = text_columns(frame.head(GUESS_ROWS))
    if not usable:
        shown = ", ".join(repr(_shorten(str(c))) for c in frame.columns[:SHOWN_COLUMNS])
        raise DataError(
            f"{name} has no column of texts: every column is empty or holds only numbers ({shown})."
        )
    return preferred if preferred in usable else usable[0]


def read_csv(
    source: CsvSource, max_rows: int | None = None, name: str | None = None
) -> tuple[pd.DataFrame, str, str]:
    """Read any CSV file or upload into a frame of strings, keeping empty cells as "".

    Args:
        source: a path, or the bytes of an uploaded file.
        max_rows: read at most this many rows plus one, so an oversized file is detected
            without parsing all of it.
        name: how to call the source in messages; default its file name.

    Returns:
        The frame, the source's display name and its SHA-256.
    """
    name = source_name(source, name)
    encoding = detect_encoding(source, name)
    with _open_binary(source) as stream:
        names = _read_header(stream, encoding, name)
        with _csv_errors(name):
            frame = pd.read_csv(
                stream,
                nrows=None if max_rows is None else max_rows + 1,
                **_read_options(encoding, names),
            )
    digest = hashlib.sha256()
    for block in _blocks(source):
        digest.update(block)
    return frame, name, digest.hexdigest()


def iter_csv_chunks(
    source: CsvSource,
    chunk_rows: int,
    columns: Sequence[str] = (),
    name: str | None = None,
) -> Iterator[tuple[pd.DataFrame, float]]:
    """Read a CSV chunk by chunk, so memory holds one chunk however long the file is.

    Args:
        source: a path, or a file's bytes.
        chunk_rows: rows per chunk.
        columns: columns that must exist; checked on the header, before any row is read.
        name: how to call the source in messages; default its file name.

    Yields:
        Each chunk (a frame of strings) and the share of the file read so far, from the
        file position, so progress needs no counting pass.
    """
    name = source_name(source, name)
    encoding = detect_encoding(source, name)
    with _open_binary(source) as stream:
        size = max(stream.seek(0, io.SEEK_END), 1)
        stream.seek(0)
        names = _read_header(stream, encoding, name)
        require_columns(pd.DataFrame(columns=names), list(columns), name)
        reader = iter(pd.read_csv(stream, chunksize=chunk_rows, **_read_options(encoding, names)))
        while True:
            # Only the parsing is guarded: an error in the caller's loop body stays its own.
            with _csv_errors(name):
                chunk = next(reader, None)
            if chunk is None:
                return
            yield chunk, min(stream.tell() / size, 1.0)


def _inert(values: pd.Series) -> pd.Series:
    """Strings with an apostrophe put before each one a spreadsheet would run as a formula."""
    values = values.astype(str)
    risky = values.str.match(FORMULA_START) & ~values.str.fullmatch(PLAIN_NUMBER)
    return values.where(~risky, "'" + values)


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Make text cells inert in spreadsheets: a leading =, +, -, @, tab or CR gets a quote.

    Spreadsheet programs run a cell that starts with one of those as a formula (CSV
    injection). Plain numbers such as "-3.5" are left alone. Column names are cells of the
    header row, so they are treated the same way.

    Args:
        frame: rows about to be written as CSV.

    Returns:
        A copy in which every risky text cell starts with an apostrophe.
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = _inert(safe[column])
    safe.columns = _inert(pd.Series(safe.columns, dtype=object)).tolist()
    return safe


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Scored rows as UTF-8 CSV, with formula cells neutralised, for a download."""
    return neutralize_formulas(frame).to_csv(index=False, lineterminator=CSV_LINE_END).encode()
