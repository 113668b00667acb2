"""bench/record.py: a bench's result file holds the command, machine, date and figures, and a
target is a bound on a same-run ratio whose verdict is written as measured."""

import argparse
import json
import platform
import re
from pathlib import Path

import pytest

from bench.record import (
    Figure,
    Reference,
    Run,
    Target,
    at_least,
    at_most,
    changed_arguments,
    command_line,
    read_result,
    this_machine,
    variant_of,
    write_result,
)


def test_a_figure_over_its_bound_misses_its_target():
    slower = Figure("p50", 3.0, "ms", Reference("Keras p50", 2.0), at_most(1.25))
    assert slower.ratio == pytest.approx(1.5)
    assert slower.met is False


def test_a_figure_within_its_bound_meets_its_target():
    assert Figure("p50", 2.0, "ms", Reference("Keras p50", 2.0), at_most(1.0)).met is True
    assert Figure("rate", 250, "texts/s", Reference("Keras", 100), at_least(2.0)).met is True
    assert Figure("rate", 150, "texts/s", Reference("Keras", 100), at_least(2.0)).met is False


def test_a_figure_without_a_target_has_no_verdict():
    figure = Figure("p95", 4.0, "ms", Reference("Keras p95", 2.0))
    assert (figure.ratio, figure.met) == (2.0, None)
    assert Figure("epochs", 8, "epochs").ratio is None


def test_a_target_needs_a_reference_since_it_bounds_a_ratio():
    with pytest.raises(ValueError, match="needs a reference"):
        Figure("wall time", 600, "s", target=at_most(1.0))


def test_a_zero_reference_never_meets_a_target():
    figure = Figure("test score", 0.7, "score", Reference("trial 0 (missing)", 0.0), at_least(1.0))
    assert (figure.ratio, figure.met) == (None, False)


def test_a_target_bound_is_at_most_or_at_least():
    with pytest.raises(ValueError):
        Target("<", 1.0)


def result_of(figures, tmp_path, **run_options) -> tuple[Path, dict]:
    """Write a result through Run as a bench does; return its path and its JSON."""
    path = Run("bench/example.py").write(figures, folder=tmp_path, **run_options)
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_a_missed_target_is_written_missed_beside_its_ratio(tmp_path, capsys):
    figures = [Figure("RSS", 900, "MiB", Reference("bare import", 600), at_most(1.0), "serve")]
    path, written = result_of(figures, tmp_path, variant="sentiment")
    assert path.name == "example-sentiment.json"
    (figure,) = written["figures"]
    assert figure["reference"] == {"name": "bare import", "value": 600.0}
    assert figure["target"] == {"op": "<=", "bound": 1.0}
    assert (figure["ratio"], figure["met"]) == (1.5, False)
    assert "MISSED" in capsys.readouterr().out


def test_a_result_file_holds_the_run_and_reads_back_as_written(tmp_path):
    figures = [
        Figure("p50", 0.1, "ms", Reference("Keras", 0.6), at_most(1.0), "one text"),
        Figure("trials pruned", 15, "trials"),
    ]
    path, written = result_of(figures, tmp_path, notes=["a note"])
    assert path.name == "example.json"
    assert written["bench"] == "example"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", written["date"])
    assert written["machine"]["python"] == platform.python_version()
    assert re.fullmatch(r"[0-9a-f]{40}(\+changes)?|unknown", written["commit"])
    assert re.search(r"(^| )python ", written["command"])  # after any SENTIMENT_ variables
    result = read_result(path)
    assert result.figures == figures
    assert result.notes == ["a note"]
    assert result.missed == []


def test_a_converted_result_keeps_the_runs_date_and_no_duration(tmp_path):
    from datetime import UTC, datetime

    when = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    _, written = result_of([Figure("x", 1, "")], tmp_path, date=when, timed=False)
    assert (written["date"], written["seconds"]) == ("2026-12-07 09:30 UTC", None)


def test_the_command_is_as_typed_after_the_projects_variables():
    argv = ["bench/compare_models.py", "--candidates", "minilm+fasttext (default)", "fasttext"]
    environ = {"SENTIMENT_MODELS_DIR": "/tmp/models dir", "HOME": "/root"}
    assert command_line(argv, environ) == (
        "SENTIMENT_MODELS_DIR='/tmp/models dir' python bench/compare_models.py "
        "--candidates 'minilm+fasttext (default)' fasttext"
    )


def test_options_changed_from_their_defaults_label_a_reduced_run():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--data")
    assert changed_arguments(parser, parser.parse_args([])) == {}
    reduced = parser.parse_args(["--trials", "5", "--seeds", "42"])
    assert changed_arguments(parser, reduced) == {
        "trials": {"value": 5, "default": 20},
        "seeds": {"value": [42], "default": [42, 1, 2]},
    }


def test_the_machine_is_read_from_the_system():
    machine = this_machine()
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert f"model name\t: {machine.cpu}" in cpuinfo
    assert 1 <= machine.cores <= cpuinfo.count("processor\t:")
    meminfo = Path("/proc/meminfo").read_text()
    total = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1))
    assert machine.memory_mib == total // 1024
    assert machine.packages["numpy"] == __import__("numpy").__version__


@pytest.mark.parametrize(
    "parts, variant",
    [
        (("../shared/data/Sentiment.csv",), "sentiment"),
        (("/data/apple_tweets.csv", "minilm+fasttext"), "apple-tweets-minilm-fasttext"),
        (("data/sample.csv", "fasttext"), "sample-fasttext"),
    ],
)
def test_a_variant_is_named_from_the_data_file_and_settings(parts, variant):
    assert variant_of(*parts) == variant


def test_a_result_written_elsewhere_is_read_from_there(tmp_path):
    figure = Figure("p50", 1.0, "ms")
    path = write_result(Run("bench/other.py").result([figure]), tmp_path)
    assert read_result(path).figures == [figure]
