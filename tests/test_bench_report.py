"""bench/report.py: docs/benchmarks.md is generated from the committed result files, so it
cannot go stale, and it shows every verdict as the file holds it."""

import subprocess
import sys

import pytest

from bench.record import (
    COMMITTED_RESULTS,
    ROOT,
    Figure,
    Reference,
    Run,
    at_least,
    read_result,
    read_results,
)
from bench.report import PAGE, bench_scripts, format_number, render

SWEEP = ROOT / "bench" / "sweep.py"


def test_the_committed_benchmarks_page_is_what_the_result_files_make():
    expected = render(read_results(COMMITTED_RESULTS), bench_scripts())
    assert PAGE.read_text(encoding="utf-8") == expected, "run: python bench/report.py"


def test_every_committed_result_file_belongs_to_a_bench_and_is_named_for_it():
    benches = {script.stem for script in bench_scripts()}
    paths = sorted(COMMITTED_RESULTS.glob("*.json"))
    for path in paths:
        result = read_result(path)
        assert result.bench in benches, path.name
        assert result.file_name == path.name


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "bench/report.py", *args], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip


def test_the_check_option_fails_on_a_stale_page_and_passes_once_it_is_written(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n| what | command | figure |\n", encoding="utf-8")
    stale = report("--check", "--out", str(page))
    assert stale.returncode == 1
    assert "is stale: run python bench/report.py" in stale.stdout
    assert report("--out", str(page)).returncode == 0
    assert page.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8")
    assert report("--check", "--out", str(page)).returncode == 0


def result_with(figures, **options):
    return Run(str(SWEEP)).result(figures, **options)


def test_a_missed_target_shows_missed_with_its_ratio_and_reference():
    figure = Figure("best on validation: test score", 0.62, "",
                    Reference("trial 0 (the defaults)", 0.64), at_least(1.0))  # fmt: skip
    page = render([result_with([figure], variant="sentiment-fasttext")], [SWEEP])
    row = next(line for line in page.splitlines() if line.startswith("| best on validation"))
    assert row == (
        "| best on validation: test score | 0.6200 | trial 0 (the defaults): 0.6400 "
        "| 0.9688x | >= 1.00x | **missed** |"
    )
    assert "- Targets met: 0 of 1." in page
    assert "| [sweep](#sweep) | `sweep-sentiment-fasttext.json` | 0 of 1 |" in page


def test_a_reduced_run_says_which_options_it_changed():
    result = result_with([Figure("wall time", 100, "s")])
    result.changed_arguments["trials"] = {"value": 5, "default": 20}
    page = render([result], [SWEEP])
    assert "- Options changed from their defaults: trials 5 (default 20)." in page
    assert f"    {result.command}" in page


def test_a_bench_without_a_result_file_shows_no_figures():
    page = render([], bench_scripts())
    for script in bench_scripts():
        assert f"## {script.stem}" in page
    assert page.count("No result file yet.") == len(bench_scripts())
    assert "| figure |" not in page


def test_each_section_carries_its_benchs_docstring():
    page = render([], [SWEEP])
    assert "Trial 0 is the default recipe" in page  # from bench/sweep.py's docstring


@pytest.mark.parametrize(
    "value, text",
    [
        (0.0439, "0.04390"),
        (0.6943, "0.6943"),
        (12.5, "12.50"),
        (724.68, "724.7"),
        (2147.0, "2,147"),
        (37087.4, "37,087"),
        (15, "15"),
        (0, "0"),
        (None, ""),
    ],
)
def test_numbers_show_four_significant_digits(value, text):
    assert format_number(value) == text
