"""The CSV files of picking: a pool or a labelled file read for its texts (the column
guessed when not named, and said), and the picks written formula-safe, all or nothing."""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.csvfile import CsvSource, check_text_column, guess_text_column, read_csv, to_csv_bytes
from pipeline.errors import DataError


@dataclass(frozen=True)
class TextFile:
    """A CSV read for its texts: the frame (every cell a string), its name, the text column,
    whether that column was guessed, and the file's SHA-256."""

    frame: pd.DataFrame
    name: str
    text_column: str
    guessed: bool
    sha256: str = ""


def read_text_file(
    source: CsvSource,
    text_column: str | None = None,
    preferred: str = config.DEFAULT_TEXT_COLUMN,
    name: str | None = None,
    max_rows: int = config.MAX_POOL_ROWS,
) -> TextFile:
    """Read a CSV for its texts (a pool, or the labelled texts to leave out).

    Args:
        source: a path, or the bytes of an upload.
        text_column: the column of texts; None guesses it (pipeline.csvfile.guess_text_column)
            and the result says so.
        preferred: the column taken first when guessing, if it holds texts.
        name: how to call the source in messages; default the file's name.
        max_rows: the most rows accepted.

    Returns:
        The file's frame, name and text column.

    Raises:
        DataError: unreadable, without rows, over `max_rows`, or without a column of texts.
    """
    frame, name, sha256 = read_csv(source, max_rows=max_rows, name=name)
    if len(frame) > max_rows:
        raise DataError(f"{name} has more than {max_rows:,} rows. Use a smaller sample of it.")
    if frame.empty:
        raise DataError(f"{name} has a header but no rows.")
    guessed = not text_column
    if guessed:
        text_column = guess_text_column(frame, name, preferred=preferred)
    else:
        check_text_column(frame, text_column, name)
    return TextFile(frame, name, text_column, guessed, sha256)


def check_output(output: str | Path, inputs: Iterable[str | Path]) -> Path:
    """Refuse an output path that is a folder or one of the input files.

    Returns:
        The output as a Path.
    """
    output = Path(output)
    if output.is_dir():
        raise DataError(f"The output {output} is a folder; give a file name.")
    for source in inputs:
        if output.exists() and output.samefile(source):
            raise DataError(f"The output would overwrite {Path(source).name}; give another name.")
    return output


def write_picks(picked: pd.DataFrame, output: str | Path) -> None:
    """Write the picked rows as CSV, formula cells made inert (pipeline.csvfile.to_csv_bytes);
    all or nothing: a failed write leaves no partial file.

    Args:
        picked: `pick_texts`'s rows.
        output: the file to write (replaced if it exists).
    """
    output = Path(output)
    temp = output.with_name(f".{output.name}.partial")
    try:
        temp.write_bytes(to_csv_bytes(picked))
        os.replace(temp, output)
    except OSError as exc:
        raise DataError(f"Cannot write {output}: {exc.strerror}.") from exc
    finally:
        temp.unlink(missing_ok=True)
