"""Batch scoring on a Ray cluster: `python -m pipeline predict --engine ray ...`.

Ray Data reads the input (a CSV or Parquet file, a folder of them, or an s3:// URL) in
blocks, a pool of actors scores them (each actor loads the version once, through the same
`load_predictor` as everywhere else, so a fasttext or LiteRT version never imports
TensorFlow), and the driver writes the scored rows, in input order, into one file through a
temporary file: a failure leaves nothing behind.

Only `python -m pipeline predict --engine ray` imports this module (and so Ray), so the
dashboard and the local path never need Ray installed (requirements-cluster.txt).
"""

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config, predict
from pipeline.cluster import check_reachable, connect, project_error
from pipeline.csvfile import (
    CSV_LINE_END,
    GUESS_ROWS,
    detect_encoding,
    iter_csv_chunks,
    neutralize_formulas,
)
from pipeline.errors import DataError, SentimentError
from pipeline.predict import load_predictor, score_frame
from pipeline.registry import Registry

# Rows per batch an actor scores at once: as many as the local path's chunks.
BATCH_ROWS = 10_000
# Bytes of a remote CSV read to guess its text column (its first rows are enough).
HEAD_BYTES = 1 << 20
# An actor scores on one core (its predictor overlaps two threads, as locally). Reading takes
# no reserved CPU: with N actors on N CPUs, reads asking for one would wait forever.
ACTOR_CPUS = 1
READ_CPUS = 0


@dataclass(frozen=True)
class Source:
    """The input resolved on the driver: its files, their format and their file system."""

    url: str
    files: list[str]
    format: str  # "csv" or "parquet"
    filesystem: object  # a pyarrow.fs.FileSystem


class Scorer:
    """Ray Data's actor UDF: loads the version once, then scores one batch per call."""

    def __init__(self, models_dir: str, version: str, text_column: str):
        self.predictor = load_predictor(models_dir, version)
        self.text_column = text_column

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return score_frame(self.predictor, batch, self.text_column)


def s3_filesystem():
    """A pyarrow S3 file system from the standard AWS variables, AWS_ENDPOINT_URL included
    (MinIO, R2, a local test server)."""
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    options = {
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "region": os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"),
    }
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return fs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})


def resolve_source(url: str) -> Source:
    """The files to read: the file itself, or the .csv or .parquet files of a folder.

    Raises:
        DataError: nothing there, a folder without such files, or both kinds mixed.
    """
    from pyarrow import fs

    if url.startswith("s3://"):
        filesystem, path = s3_filesystem(), url.removeprefix("s3://").rstrip("/")
    else:
        filesystem, path = fs.LocalFileSystem(), str(Path(url).resolve())
    try:
        info = filesystem.get_file_info(path)
        if info.type == fs.FileType.Directory:
            found = filesystem.get_file_info(fs.FileSelector(path))
            files = sorted(i.path for i in found if i.type == fs.FileType.File)
        else:
            files = [path] if info.type == fs.FileType.File else []
    except OSError as exc:
        raise DataError(f"Cannot read {url}: {exc}") from exc
    if info.type == fs.FileType.NotFound:
        raise DataError(f"Input file not found: {url}.")
    if info.type == fs.FileType.Directory:
        files = [f for f in files if _format(f) and not Path(f).name.startswith((".", "_"))]
        if not files:
            raise DataError(f"The folder {url} holds no .csv or .parquet files.")
    formats = {_format(f) or "csv" for f in files}
    if len(formats) > 1:
        raise DataError(f"The folder {url} mixes CSV and Parquet files; keep one kind.")
    return Source(url, files, formats.pop(), filesystem)


def _format(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    return {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(suffix)


def read_head(source: Source) -> tuple[pd.DataFrame, str]:
    """The first rows of the first file, as the local path reads them, and its encoding."""
    first, name = source.files[0], Path(source.files[0]).name
    if source.format == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(source.filesystem.open_input_file(first)).read()
        except Exception as exc:  # pyarrow's own errors: not Parquet, truncated
            raise DataError(f"{name} cannot be read as Parquet: {exc}") from exc
        return table.slice(0, GUESS_ROWS).to_pandas(), "utf-8"
    if isinstance(source.filesystem, _local_filesystem_type()):
        data: str | bytes = first
    else:
        with source.filesystem.open_input_stream(first) as stream:
            data = stream.read(HEAD_BYTES)
        if len(data) == HEAD_BYTES:  # cut at the last whole line
            data = data[: data.rfind(b"\n") + 1]
    encoding = detect_encoding(data if isinstance(data, bytes) else first, name)
    chunk, _ = next(iter_csv_chunks(data, GUESS_ROWS, (), name))
    return chunk, encoding


def _local_filesystem_type():
    from pyarrow import fs

    return fs.LocalFileSystem


def choose_text_column(
    head: pd.DataFrame, column: str | None, name: str, on_guess: Callable[[str], None] | None
) -> str:
    """The given text column, checked, or the guessed one (announced), as the local path."""
    if head.empty:
        raise DataError(f"{name} has a header but no rows to score.")
    return predict.choose_text_column(head, column, name, on_guess)


def read_dataset(source: Source, columns: list[str], encoding: str):
    """The input as a Ray Dataset; CSV cells read as strings, "" for empty, as locally."""
    import pyarrow as pa
    import ray.data
    from pyarrow import csv

    if source.format == "parquet":
        return ray.data.read_parquet(source.files, filesystem=source.filesystem, num_cpus=READ_CPUS)
    return ray.data.read_csv(
        source.files,
        filesystem=source.filesystem,
        num_cpus=READ_CPUS,
        read_options=csv.ReadOptions(encoding=_arrow_encoding(encoding)),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
        ),
    )


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig") else encoding


def score_with_ray(
    input_url: str,
    output_path: str | os.PathLike,
    models_dir: str | os.PathLike | None = None,
    version: str | None = None,
    text_column: str | None = None,
    address: str | None = None,
    concurrency: int = 1,
    on_guess: Callable[[str], None] | None = None,
    on_scored: Callable[[list[str], np.ndarray], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Score an input with a pool of Ray actors and write one file, rows in input order.

    Args:
        input_url: a CSV or Parquet file, a folder of them, or an s3:// URL of either.
        output_path: the scored file: Parquet if it ends in .parquet, else CSV.
        models_dir: the registry (a folder every node can read, or object storage).
        version: a version id; default the active one (resolved here, once, for all actors).
        text_column: the column of texts; None guesses it from the first rows.
        address: the cluster (host:port); None starts Ray on this machine.
        concurrency: how many actors score at once.
        on_guess: called with the guessed column before anything is scored.
        on_scored: called with each batch's texts and probabilities (`prediction log`).
        on_progress: called with the rows written so far.

    Returns:
        The number of rows scored.
    """
    if concurrency < 1:
        raise DataError("--concurrency is the number of actors: 1 or more.")
    if address:
        check_reachable(address)  # before any reading, so the one problem is said alone
    output_path = Path(output_path)
    if output_path.is_dir():
        raise DataError(f"The output {output_path} is a folder; give a file name.")
    source = resolve_source(input_url)
    if any(Path(f) == output_path.resolve() for f in source.files):
        raise DataError(f"The output would overwrite the input {input_url}; give another name.")
    name = Path(source.files[0]).name
    head, encoding = read_head(source)
    text_column = choose_text_column(head, text_column, name, on_guess)
    models_dir = config.models_dir(models_dir)
    if not config.is_url(models_dir):
        models_dir = str(Path(models_dir).resolve())  # the actors' working folder differs
    registry = Registry(models_dir)
    version = registry.resolve(version)
    labels = registry.metadata(version)["labels"]
    import ray.data

    connect(address)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows keep their input order
        context.enable_progress_bars = False
        scored = read_dataset(source, [str(c) for c in head.columns], encoding).map_batches(
            Scorer,
            fn_constructor_args=(models_dir, version, text_column),
            batch_size=BATCH_ROWS,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=concurrency),
            num_cpus=ACTOR_CPUS,
        )
        return write_output(scored, output_path, text_column, labels, on_scored, on_progress)
    except SentimentError:
        raise
    except Exception as exc:  # Ray wraps errors raised in tasks and actors
        found = project_error(exc)
        if found is not None:
            raise found from None
        failed = _failed_csv(exc)
        if failed is not None:
            raise explain_bad_csv(source, failed) from None
        if _is_arrow_error(exc):
            raise DataError(f"{name} cannot be read: {_first_line(exc)}") from None
        raise
    finally:
        ray.shutdown()


def _failed_csv(exc: BaseException) -> str | None:
    """The file Ray Data's CSV reader refused, from its message (the parser's own error does
    not travel back from the task)."""
    found = re.search(r"Failed to read CSV file: (.+?)\. Please check", str(exc))
    return found and found.group(1)


def explain_bad_csv(source: Source, path: str) -> DataError:
    """The message the single-process path gives for a CSV file (naming the line), found by
    reading it again with the project's reader; only after Ray's reader refused it."""
    name = Path(path).name
    if isinstance(source.filesystem, _local_filesystem_type()):
        data: str | bytes = path
    else:
        with source.filesystem.open_input_stream(path.removeprefix("s3://")) as stream:
            data = stream.read()
    try:
        for _ in iter_csv_chunks(data, BATCH_ROWS, (), name):
            pass
    except DataError as exc:
        return exc
    return DataError(f"{name} cannot be read as CSV.")


def _is_arrow_error(exc: BaseException) -> bool:
    import pyarrow as pa

    while exc is not None:
        if isinstance(exc, pa.ArrowException):
            return True
        exc = exc.__cause__ or getattr(exc, "cause", None)
    return False


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def write_output(
    scored,
    output_path: Path,
    text_column: str,
    labels: list[str],
    on_scored: Callable[[list[str], np.ndarray], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Stream the scored batches into a temporary file, then move it into place."""
    temp = output_path.with_name(f".{output_path.name}.partial")
    parquet = output_path.suffix.lower() == ".parquet"
    probability_columns = [f"prob_{label}" for label in labels]
    rows, writer = 0, None
    try:
        try:
            handle = open(temp, "wb")  # noqa: SIM115  closed below
        except OSError as exc:
            raise DataError(f"Cannot write {output_path}: {exc.strerror}.") from exc
        with handle:
            for batch in scored.iter_batches(batch_format="pandas", batch_size=None):
                # The runtimes answer in float32, which Ray's blocks widen: written as float64,
                # 0.031734 would read 0.031733513.
                batch[probability_columns] = batch[probability_columns].astype(np.float32)
                if on_scored:
                    texts = batch[text_column].astype(str).tolist()
                    on_scored(texts, batch[probability_columns].to_numpy())
                batch = neutralize_formulas(batch)
                if parquet:
                    writer = _write_parquet(batch, handle, writer)
                else:
                    text = io.StringIO()
                    batch.to_csv(text, header=rows == 0, index=False, lineterminator=CSV_LINE_END)
                    handle.write(text.getvalue().encode("utf-8"))
                rows += len(batch)
                if on_progress:
                    on_progress(rows)
            if writer is not None:
                writer.close()
        if rows == 0:
            raise DataError(f"{output_path.name}: the input has no rows to score.")
        os.replace(temp, output_path)
    finally:
        temp.unlink(missing_ok=True)
    return rows


def _write_parquet(batch: pd.DataFrame, handle, writer):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(batch, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(handle, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer
