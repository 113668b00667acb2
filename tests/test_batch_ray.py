"""`python -m pipeline predict --engine ray`, against a real local Ray cluster (started once for
the session by tests/ray_cluster.py), with the shipped fasttext version: the same bytes as the
single-process path, whatever the input's form, and the same one-line errors."""

# ruff: noqa: F811  (the imported fixtures are parameters of the tests)

import re
import subprocess
import sys

import pandas as pd
import pytest
from conftest import shipped_version
from helpers import run_cli
from test_cli import assert_user_error
from test_object_store import BUCKET, s3_endpoint, s3_env  # noqa: F401  fixtures

from pipeline import config
from pipeline.predict import load_predictor, score_csv
from tests.ray_cluster import ray_address  # noqa: F401  fixture

pytest.importorskip("ray", reason="needs Ray: pip install -r requirements-cluster.txt")

ROWS = 3_000
# Ray's C++ core prints one line of its own when the actors start (ray-project/ray issue
# 53727: Ray Data keeps their constructor's arguments in the object store); no setting turns it
# off without printing another line in its place, so the one-line checks leave it out.
RAY_CORE_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+ [IWE] \d+ \d+\] core_worker\.cc:\d+: ")


@pytest.fixture(scope="module")
def version() -> str:
    return shipped_version("fasttext")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """data/sample.csv repeated to 3,000 rows, an id column first and a formula-looking cell."""
    sample = pd.read_csv(config.SAMPLE_DATA_PATH, dtype=str, keep_default_na=False)
    rows = pd.concat([sample] * (ROWS // len(sample) + 1), ignore_index=True).head(ROWS)
    rows.insert(0, "id", [f"{i:05d}" for i in range(ROWS)])
    rows.loc[7, "text"] = "=1+1"
    return rows


@pytest.fixture(scope="module")
def expected(frame, version, tmp_path_factory) -> bytes:
    """The single-process path's output for `frame`."""
    folder = tmp_path_factory.mktemp("local")
    frame.to_csv(folder / "in.csv", index=False)
    predictor = load_predictor(config.DEFAULT_MODELS_DIR, version)
    score_csv(predictor, folder / "in.csv", folder / "out.csv")
    return (folder / "out.csv").read_bytes()


def assert_one_error_line(done: subprocess.CompletedProcess, fragment: str) -> None:
    """As test_cli's assert_user_error, once Ray's own line is left out."""
    lines = [line for line in done.stderr.splitlines() if not RAY_CORE_LINE.match(line)]
    assert_user_error(subprocess.CompletedProcess(done.args, done.returncode, done.stdout,
                                                  "\n".join(lines)), fragment)  # fmt: skip


def predict_on_ray(address, version, source, output, *options):
    return run_cli(
        "-m", "pipeline", "predict", "--engine", "ray", "--ray-address", address,
        "--input", str(source), "--output", str(output), "--version", version,
        "--models-dir", str(config.DEFAULT_MODELS_DIR), *options,
    )  # fmt: skip


def test_two_actors_write_the_same_bytes_as_one_process(
    ray_address, version, frame, expected, tmp_path
):
    frame.to_csv(tmp_path / "in.csv", index=False)
    done = predict_on_ray(ray_address, version, tmp_path / "in.csv", tmp_path / "out.csv",
                          "--concurrency", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "scoring the texts of column 'text' (guessed" in done.stderr
    assert f"wrote {ROWS:,} scored rows" in done.stderr
    output = (tmp_path / "out.csv").read_bytes()
    assert output == expected
    assert b"\r\n00007,'=1+1," in output  # the formula cell is made inert, in its place
    assert [p.name for p in tmp_path.iterdir()] == ["in.csv", "out.csv"]  # no temp file left


def test_parquet_in_and_out_hold_the_same_rows(ray_address, version, frame, expected, tmp_path):
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    done = predict_on_ray(ray_address, version, tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert done.returncode == 0, done.stderr
    scored = pd.read_parquet(tmp_path / "out.parquet")
    (tmp_path / "local.csv").write_bytes(expected)
    local = pd.read_csv(tmp_path / "local.csv", dtype={"id": str}, keep_default_na=False)
    assert list(scored.columns) == list(local.columns)
    pd.testing.assert_frame_equal(scored, local, check_dtype=False, check_exact=False, atol=1e-6)


def test_an_s3_folder_of_two_csvs_is_read_with_the_endpoint_from_the_environment(
    ray_address, version, frame, expected, s3_env, tmp_path
):
    """A folder and s3:// at once (each Ray run costs seconds): the parts are read in name
    order into one output, through the AWS_ENDPOINT_URL of the environment."""
    for name, part in (("part-1.csv", frame.iloc[:1_200]), ("part-2.csv", frame.iloc[1_200:])):
        body = part.to_csv(index=False).encode()
        s3_env["client"].put_object(Bucket=BUCKET, Key=f"{s3_env['prefix']}/in/{name}", Body=body)
    done = predict_on_ray(ray_address, version, f"{s3_env['url']}/in/", tmp_path / "out.csv",
                          "--text-column", "text")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "guessed" not in done.stderr
    assert (tmp_path / "out.csv").read_bytes() == expected


def test_a_missing_text_column_is_one_line_and_leaves_no_output(
    ray_address, version, frame, tmp_path
):
    frame.to_csv(tmp_path / "in.csv", index=False)
    done = predict_on_ray(ray_address, version, tmp_path / "in.csv", tmp_path / "out.csv",
                          "--text-column", "tweet")  # fmt: skip
    assert_user_error(done, "Columns present: id, text, sentiment")
    assert not (tmp_path / "out.csv").exists()


def test_an_unreachable_cluster_is_one_clear_line(version, frame, tmp_path):
    from tests.ray_cluster import free_port

    frame.head(10).to_csv(tmp_path / "in.csv", index=False)
    address = f"127.0.0.1:{free_port()}"
    done = predict_on_ray(address, version, tmp_path / "in.csv", tmp_path / "out.csv")
    assert_user_error(done, f"No Ray cluster answers at {address}")
    assert not (tmp_path / "out.csv").exists()


def test_actors_score_without_importing_tensorflow(ray_address, version, frame):
    import ray
    import ray.cloudpickle

    from pipeline.batch_ray import Scorer, connect

    class Probe(Scorer):
        def __call__(self, batch):
            scored = super().__call__(batch)
            scored["tensorflow_loaded"] = "tensorflow" in sys.modules
            return scored

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import it
    connect(ray_address)
    try:
        scored = (
            ray.data.from_pandas(frame.head(50))
            .map_batches(
                Probe,
                fn_constructor_args=(str(config.DEFAULT_MODELS_DIR), version, "text"),
                batch_format="pandas",
                concurrency=1,
            )
            .to_pandas()
        )
    finally:
        ray.shutdown()
    assert len(scored) == 50 and scored["predicted_label"].notna().all()
    assert not scored["tensorflow_loaded"].any()


def test_ray_options_without_the_ray_engine_are_refused(tmp_path):
    done = run_cli("-m", "pipeline", "predict", "--input", str(config.SAMPLE_DATA_PATH),
                   "--output", str(tmp_path / "out.csv"), "--concurrency", "2")  # fmt: skip
    assert_user_error(done, "--ray-address and --concurrency go with --engine ray")
    assert not (tmp_path / "out.csv").exists()


def test_a_bad_row_past_the_first_rows_is_one_line_and_leaves_no_output(
    ray_address, version, frame, tmp_path
):
    """The driver checks the first rows; a row Ray's reader refuses later gets the one line
    the single-process path gives, naming the line."""
    text = frame.to_csv(index=False) + '99999,"one field too many",Neutral,extra\n'
    (tmp_path / "in.csv").write_text(text, encoding="utf-8")
    local = run_cli("-m", "pipeline", "predict", "--input", str(tmp_path / "in.csv"),
                    "--output", str(tmp_path / "out.csv"), "--version", version,
                    "--models-dir", str(config.DEFAULT_MODELS_DIR))  # fmt: skip
    message = local.stderr.strip().splitlines()[-1]
    assert "line 3002" in message, local.stderr
    done = predict_on_ray(ray_address, version, tmp_path / "in.csv", tmp_path / "out.csv",
                          "--text-column", "text")  # fmt: skip
    assert_one_error_line(done, message)
    assert not (tmp_path / "out.csv").exists()
    assert not list(tmp_path.glob(".out.csv*"))
