"""Every bench script starts (its --help), writes its result through bench/record.py, and the
cheap ones write a real result file: ensembles.py over saved probabilities,
compare_models.py --from-json over an earlier run's --json output (nothing trained), and
active_learning.py --quick (two rounds of the labelling loop on data/sample.csv)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bench.compare_models import DEFAULT, PEERS
from bench.record import RESULTS_DIR_ENV, ROOT, read_result
from bench.report import bench_scripts
from pipeline.active.strategies import STRATEGIES

SCRIPTS = bench_scripts()


def run_bench(*args: str, results_dir=None, timeout=120) -> subprocess.CompletedProcess:
    environment = {**os.environ}
    if results_dir is not None:
        environment[RESULTS_DIR_ENV] = str(results_dir)
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=environment, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_each_bench_script_starts_and_explains_its_options(script):
    done = run_bench(str(script.relative_to(ROOT)), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_each_bench_writes_its_result_file_through_bench_record(script):
    source = script.read_text(encoding="utf-8")
    assert "Run(__file__, parser, args)" in source
    assert ".write(" in source


def test_ensembles_judges_the_best_pair_against_the_best_single_recipe(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array(["negative", "neutral", "positive"])
    for seed in (42, 1):
        truth = {part: labels[rng.integers(0, 3, 60)] for part in ("validation", "test")}
        saved = {f"{part}_labels": truth[part] for part in truth}
        for name in ("fasttext", "minilm", "tf-idf + logistic regression"):
            for part, y in truth.items():
                noisy = rng.random((60, 3)) + 2.0 * (labels[None, :] == y[:, None])
                saved[f"{part}/{name}"] = noisy / noisy.sum(axis=1, keepdims=True)
        np.savez(tmp_path / f"seed-{seed}.npz", labels=labels, **saved)
    done = run_bench("bench/ensembles.py", str(tmp_path), results_dir=tmp_path / "results")
    assert done.returncode == 0, done.stderr
    result = read_result(tmp_path / "results" / "ensembles.json")
    (judged,) = [f for f in result.figures if f.target is not None]
    assert judged.name.endswith("test score (mean of accuracy and macro-F1)")
    assert judged.reference.name.startswith("best single on validation (")
    assert judged.met is (judged.value >= judged.reference.value)


def old_json(path, seeds: int) -> None:
    """A file as compare_models.py --json wrote it before result files: rows per recipe."""
    row = {"seconds": 3.0, "validation": [0.7, 0.6], "validation, each text once": [0.7, 0.6],
           "test": [0.68, 0.58], "test, each text once": [0.66, 0.57]}  # fmt: skip
    names = [*PEERS, DEFAULT, "fasttext"]
    path.write_text(json.dumps({name: [row] * seeds for name in names}), encoding="utf-8")


def test_compare_models_turns_an_earlier_json_output_into_its_result_file(tmp_path):
    old = tmp_path / "compare-gop.json"
    old_json(old, seeds=3)
    options = ["--data", "../shared/data/Sentiment.csv", "--seeds", "42", "1", "2",
               "--candidates", DEFAULT, "fasttext"]  # fmt: skip
    done = run_bench("bench/compare_models.py", "--from-json", str(old), *options,
                     results_dir=tmp_path / "results")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = read_result(tmp_path / "results" / "compare_models-sentiment.json")
    # the run's own command: --json where the conversion says --from-json
    assert result.command.endswith(
        f"python bench/compare_models.py --json {old} --data ../shared/data/Sentiment.csv "
        f"--seeds 42 1 2 --candidates '{DEFAULT}' fasttext"
    )
    assert result.seconds is None
    assert any("Converted from the --json file" in note for note in result.notes)
    groups = {f.group for f in result.figures}
    assert groups == {"means of 3 seeds", "means of 3 seeds, each text once", "seed 42",
                      "seed 1", "seed 2"}  # fmt: skip
    (judged,) = [f for f in result.figures if f.target is not None]
    assert judged.name == f"{DEFAULT}: test score"
    assert judged.met is True  # equal to the best peer: 1.00x


def test_compare_models_refuses_an_earlier_output_that_does_not_match_the_options(tmp_path):
    old = tmp_path / "compare-gop.json"
    old_json(old, seeds=3)
    results = tmp_path / "results"
    wrong_seeds = run_bench("bench/compare_models.py", "--from-json", str(old), "--seeds", "42",
                            "--candidates", DEFAULT, "fasttext", results_dir=results)  # fmt: skip
    assert wrong_seeds.returncode == 1
    assert "holds [3] rows per recipe; --seeds gives 1" in wrong_seeds.stderr
    wrong_names = run_bench("bench/compare_models.py", "--from-json", str(old),
                            "--candidates", "fasttext", results_dir=results)  # fmt: skip
    assert wrong_names.returncode == 1
    assert f"holds the candidates ['{DEFAULT}', 'fasttext']" in wrong_names.stderr
    assert not results.exists()


def test_active_learning_quick_runs_the_labelling_loop_and_judges_the_best_strategy(tmp_path):
    done = run_bench("bench/active_learning.py", "--quick", results_dir=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    result = read_result(tmp_path / "active_learning-quick.json")
    assert result.changed_arguments == {"quick": {"value": True, "default": False}}
    means = "sample.csv: means of 1 seed"
    assert [f.group for f in result.figures if f.target is not None] == [means, means]
    judged_f1, needed = [f for f in result.figures if f.target is not None]
    assert judged_f1.name.endswith("(best on validation): test macro-F1, mean over the rounds")
    assert judged_f1.reference.name == "random, mean over the rounds"
    assert needed.unit == "labels" and needed.reference.value == 40
    # every strategy's test macro-F1 at each round (20 and 40 labels), beside random's
    curve = [f for f in result.figures if f.group.startswith("sample.csv: test macro-F1 by")]
    assert [f.name for f in curve] == [f"{n} labels: {s}" for n in (20, 40) for s in STRATEGIES]
    first_round = {f.value for f in curve if f.name.startswith("20 labels")}
    assert len(first_round) == 1  # one random start, one model, shared by every strategy
