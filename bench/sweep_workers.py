"""A shared sweep on PostgreSQL: 2 workers against 1, in trials per minute, in one run.

    nice -n 10 python bench/sweep_workers.py                 # ../shared/data/Sentiment.csv
    nice -n 10 python bench/sweep_workers.py --data data/sample.csv --trials 6

Each run starts its own PostgreSQL server (tests/postgres_server.py: initdb and pg_ctl in a
temporary folder) and runs `python -m pipeline sweep --storage URL --study NAME` in 1, then 2,
worker processes on a fresh study of `--trials` fasttext trials (the default search space,
into a temporary registry). Trials per minute are counted from the study's own clock: from
the first trial's start to the last trial's end, so each worker's start (TensorFlow's import,
the split and the baseline) is left out, as it is paid once per worker however long the
sweep. Target: 2 workers at least 1.7x 1 worker.

Each worker is held to one thread (--threads 1: TensorFlow's intra- and inter-op pools, and
OpenMP's), as each would be on its own machine's core: on this 2-core machine a lone
TensorFlow process otherwise spreads over both cores, and two of them then fight over the
same two. The 1-worker run is held to the same thread, so the ratio measures the workers'
scaling, not TensorFlow's.
"""

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.record import Figure, Reference, Run, at_least, variant_of  # noqa: E402
from pipeline import config  # noqa: E402

DATA_CANDIDATES = (config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv",
                   config.KAGGLE_DATA_PATH)  # fmt: skip
TARGET = 1.7


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="default: ../shared/data/Sentiment.csv, else data/")
    parser.add_argument("--trials", type=int, default=8, help="the study's trials (default 8)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="TensorFlow threads per worker (default 1; 0 for its own choice)",
    )
    args = parser.parse_args()
    path = Path(args.data) if args.data else next((p for p in DATA_CANDIDATES if p.is_file()), None)
    if path is None or not path.is_file():
        print("skipped: the GOP Sentiment.csv is not in ../shared/data/ or data/")
        return 0
    from tests.postgres_server import postgres_bin, running_postgres

    binaries = postgres_bin()
    if binaries is None:
        print("skipped: no PostgreSQL binaries (apt-get install postgresql)")
        return 0
    run = Run(__file__, parser, args)
    rates = {}
    with running_postgres(binaries) as url, tempfile.TemporaryDirectory() as folder:
        for workers in (1, 2):
            rates[workers] = sweep_rate(url, path, args.trials, workers, args.threads, folder)
            print(f"{workers} worker(s): {rates[workers]:.2f} trials/min", flush=True)
    one = Reference("1 worker, same run", rates[1])
    figures = [
        Figure("1 worker", rates[1], "trials/min"),
        Figure("2 workers", rates[2], "trials/min", one, at_least(TARGET)),
    ]
    threads = f"{args.threads} TensorFlow thread(s)" if args.threads else "TensorFlow's threads"
    notes = [f"{path.name}; {args.trials} fasttext trials per study (default search space), "
             f"{threads} per worker; counted from the study's first trial start to its last "
             "trial end."]  # fmt: skip
    run.write(figures, f"{variant_of(path)}-fasttext", notes)
    return 0


def worker_environment(threads: int) -> dict:
    environment = {**os.environ}
    if threads:
        environment.update(
            TF_NUM_INTRAOP_THREADS=str(threads),
            TF_NUM_INTEROP_THREADS=str(threads),
            OMP_NUM_THREADS=str(threads),
        )
    return environment


def sweep_rate(url: str, data: Path, trials: int, workers: int, threads: int, folder) -> float:
    """Trials per minute of `workers` processes on a new study of `trials` trials."""
    from pipeline.sweep.shared import load_shared_study

    study = f"bench-{workers}w-{secrets.token_hex(3)}"
    argv = [sys.executable, "-m", "pipeline", "sweep", "--data", str(data), "--arch", "fasttext",
            "--trials", str(trials), "--models-dir", str(Path(folder) / study),
            "--storage", url, "--study", study]  # fmt: skip
    started = time.perf_counter()
    processes = [subprocess.Popen(argv, cwd=config.PROJECT_ROOT, env=worker_environment(threads),
                                  stdout=subprocess.DEVNULL) for _ in range(workers)]  # fmt: skip
    codes = [process.wait() for process in processes]
    if any(codes):
        raise SystemExit(f"a worker failed: exit codes {codes}")
    print(f"  {workers} worker(s): {time.perf_counter() - started:.0f} s wall", flush=True)
    ended = [t for t in load_shared_study(url, study).get_trials() if t.datetime_complete]
    first = min(t.datetime_start for t in ended)
    last = max(t.datetime_complete for t in ended)
    return len(ended) / ((last - first).total_seconds() / 60)


if __name__ == "__main__":
    sys.exit(main())
