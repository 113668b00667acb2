"""Batch scoring on Ray against one process: rows per second and the driver's peak memory.

    nice -n 10 python bench/batch_ray.py [--rows 1000000] [--data ../shared/data/Sentiment.csv]

Writes a CSV of `--rows` rows (an id and the data's texts, repeated), then scores it three
times with `python -m pipeline predict`, each in its own process and timed whole (start-up,
reading, scoring, writing): the single-process path (`--engine local`, score_csv), and Ray
with 1 and with 2 actors on a local cluster this bench starts (`ray start --head --num-cpus 2`,
as tests/ray_cluster.py). The three outputs must be the same bytes.
The version is the newest `fasttext` one by default: the default minilm+fasttext ensemble
scores about 250 texts a second here, so a million rows would take an hour per run.
The driver's peak memory is the command process's maximum resident set (wait4).
Targets: Ray with 2 actors at least 0.9x the single process (the engine's overhead stays
small), and 2 actors at least 1.7x one actor (actors add up).
"""

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from bench.record import Figure, Reference, Run, at_least, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.registry import Registry  # noqa: E402

DEFAULT_DATA = config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv"


def write_input(data: str, rows: int, path: Path) -> None:
    """An id column and the data's texts, repeated to `rows` rows."""
    texts = pd.read_csv(data, usecols=["text"], dtype=str, keep_default_na=False)["text"]
    repeated = pd.concat([texts] * (rows // len(texts) + 1), ignore_index=True).head(rows)
    pd.DataFrame({"id": range(rows), "text": repeated}).to_csv(path, index=False)


def run_command(args: list[str]) -> tuple[float, float]:
    """Run `python -m pipeline ARGS`; return its seconds and its peak resident MiB."""
    env = {**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=config.PROJECT_ROOT,
                               env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"python -m pipeline {' '.join(args)} failed:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to score")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="where the texts come from")
    parser.add_argument("--models-dir", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--version", help="default: the newest fasttext version")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    from tests.ray_cluster import local_cluster

    registry = Registry(args.models_dir)
    fasttext = [m["version"] for m in registry.list() if m.get("architecture") == "fasttext"]
    version = registry.resolve(args.version or (fasttext[0] if fasttext else None))
    common = ["--version", version, "--models-dir", args.models_dir, "--text-column", "text"]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "input.csv"
        write_input(args.data, args.rows, source)
        outputs = {name: Path(folder) / f"{name}.csv" for name in ("local", "ray1", "ray2")}
        timed = {"local": run_command(["predict", "--input", str(source), "--output",
                                       str(outputs["local"]), *common])}  # fmt: skip
        with local_cluster(num_cpus=2) as address:
            for actors in (1, 2):
                timed[f"ray{actors}"] = run_command([
                    "predict", "--engine", "ray", "--ray-address", address, "--concurrency",
                    str(actors), "--input", str(source), "--output",
                    str(outputs[f"ray{actors}"]), *common,
                ])  # fmt: skip
        same = all(filecmp.cmp(outputs["local"], outputs[n], shallow=False) for n in outputs)
    if not same:
        raise SystemExit("the Ray outputs differ from the single-process output")
    rate = {name: args.rows / seconds for name, (seconds, _) in timed.items()}
    memory = {name: mib for name, (_, mib) in timed.items()}
    for name, (seconds, mib) in timed.items():
        print(f"{name}: {seconds:.1f} s, {rate[name]:,.0f} rows/s, driver peak {mib:,.0f} MiB")
    single = Reference("single process", rate["local"])
    figures = [
        Figure("single process (score_csv)", rate["local"], "rows/s"),
        Figure("Ray, 1 actor", rate["ray1"], "rows/s", single),
        Figure("Ray, 2 actors", rate["ray2"], "rows/s", single, at_least(0.9)),
        Figure(
            "Ray, 2 actors against 1",
            rate["ray2"],
            "rows/s",
            Reference("Ray, 1 actor", rate["ray1"]),
            at_least(1.7),
        ),  # fmt: skip
        Figure("driver peak memory, single process", memory["local"], "MiB"),
        Figure(
            "driver peak memory, Ray 2 actors",
            memory["ray2"],
            "MiB",
            Reference("single process", memory["local"]),
        ),  # fmt: skip
    ]
    notes = [
        f"Version {version} (fasttext), {args.rows:,} rows of texts from "
        f"{Path(args.data).name} repeated; each path is one `python -m pipeline predict` "
        "process timed whole, its output the same bytes as the others'.",
        "Ray runs on a local cluster of 2 CPUs on the same 2 cores as its driver, which "
        "reads only the first rows (the text column) but writes every row (one CSV, in order).",
    ]
    run.write(figures, variant_of(args.data), notes)


if __name__ == "__main__":
    main()
