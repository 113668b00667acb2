"""Run mutmut's mutants one at a time, each in a fresh pytest process (docs/testing.md).

    mutmut run            # makes mutants/ and the tests covering each function; stop it (Ctrl-C)
                          # once it starts on the mutants
    python tools/mutants.py results.jsonl "ui.guard*" "pipeline.limits*"
    python tools/mutants.py results.jsonl "pipeline.data.x_split*" --tests tests/test_data.py
    python tools/mutants.py results.jsonl "pipeline.registry.local*" \
        --also tests/test_store_contract.py --within tests/test_registry.py tests/test_pointer.py

`mutmut run` forks each mutant's tests from a process that already holds threads and locks,
and mutants whose tests run the app hang there; here each mutant runs in a new process
instead, in mutmut's `mutants/` folder, with MUTANT_UNDER_TEST naming it. Each result is one
JSON line of OUT (killed, survived, timeout, or "no tests"); a run that stops resumes where
it was. The mutants run in the order of the patterns given.
"""

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MUTANTS = Path(__file__).resolve().parent.parent / "mutants"
TIMEOUT_SECONDS = 400
PYTEST = ["-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:randomly", "-p", "no:cacheprovider",
          "--no-header", "-W", "ignore"]  # fmt: skip


def mutant_names() -> list[str]:
    """Every mutant mutmut made, "module.x_function__mutmut_N", from the mutated sources."""
    names = []
    for source in MUTANTS.rglob("*.py"):
        if "tests" in source.parts:
            continue
        module = ".".join(source.relative_to(MUTANTS).with_suffix("").parts)
        module = module.removesuffix(".__init__")  # a package's own code: "pipeline.registry"
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.startswith("mutants_") and "['x" in line and "] = " in line:
                mutant = line.split("['", 1)[1].split("']", 1)[0]
                names.append(f"{module}.{mutant}")
    return names


def covering_tests(name: str, stats: dict) -> list[str]:
    """The tests mutmut found covering the mutant's function, the fastest first."""
    module, _, mutant = name.rpartition(".")
    function = f"{module}.{mutant.rsplit('__mutmut_', 1)[0]}"
    durations = stats["duration_by_test"]
    tests = stats["tests_by_mangled_function_name"].get(function, [])
    return sorted(tests, key=lambda test: durations.get(test, 99))


def run_one(name: str, tests: list[str]) -> dict:
    """Run the tests against one mutant in a new process: exit 1 is killed, 0 survived."""
    started = time.monotonic()
    environment = {**os.environ, "MUTANT_UNDER_TEST": name}
    try:
        done = subprocess.run([sys.executable, *PYTEST, *tests], cwd=MUTANTS, env=environment,
                              capture_output=True, text=True, timeout=TIMEOUT_SECONDS)  # fmt: skip
        result = {0: "survived", 1: "killed"}.get(done.returncode, f"exit {done.returncode}")
        tail = done.stdout.strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        result, tail = "timeout", []
    seconds = round(time.monotonic() - started, 1)
    return {"name": name, "result": result, "seconds": seconds, "tests": len(tests), "tail": tail}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="JSON lines file of results (resumed if there)")
    parser.add_argument("patterns", nargs="+", help="mutant name patterns, e.g. 'ui.guard*'")
    parser.add_argument("--tests", nargs="+", help="test files to run (default: mutmut's)")
    parser.add_argument(
        "--also",
        nargs="+",
        default=[],
        help="test files to run first, then mutmut's covering tests",
    )
    parser.add_argument("--within", nargs="+",
                        help="keep only the covering tests in these files")  # fmt: skip
    args = parser.parse_args()
    stats_file = MUTANTS / "mutmut-stats.json"
    if not stats_file.is_file():
        parser.error(f"no {stats_file}: run `mutmut run` first (and stop it once it mutates)")
    stats = json.loads(stats_file.read_text(encoding="utf-8"))

    def rank(name: str) -> int | None:
        return next((i for i, p in enumerate(args.patterns) if fnmatch.fnmatch(name, p)), None)

    names = sorted((n for n in mutant_names() if rank(n) is not None), key=rank)
    done = set()
    if args.out.exists():
        done = {json.loads(line)["name"] for line in args.out.read_text().splitlines()}
    print(f"{len(names)} mutants, {len(done & set(names))} done before", flush=True)
    for name in names:
        if name in done:
            continue
        covering = covering_tests(name, stats)
        if args.within:
            covering = [test for test in covering if test.split("::")[0] in args.within]
        tests = args.tests or args.also + covering
        record = run_one(name, tests) if tests else {"name": name, "result": "no tests"}
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(name, record["result"], record.get("seconds", ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
