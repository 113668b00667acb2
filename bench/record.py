"""One JSON result file per bench run: the command, the machine, the date and the figures.

Every bench writes its figures through `Run.write` into `bench/results/<bench>[-<variant>].json`,
and `bench/report.py` turns those files into docs/benchmarks.md. A figure stands beside its
same-run reference where it has one; a target is a bound on that ratio (never a fixed
number of seconds or MiB, which says more about the machine than about the code), and the
file records whether it was met.

    run = Run(__file__, parser, args)
    ...
    run.write([Figure("p50", 0.12, "ms", Reference("Keras p50", 0.61), at_most(1.0))])
"""

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_RESULTS = ROOT / "bench" / "results"
# Where result files go: bench/results/ (committed), or elsewhere for the tests.
RESULTS_DIR_ENV = "BENCH_RESULTS_DIR"
RESULTS_DIR = Path(os.environ.get(RESULTS_DIR_ENV) or COMMITTED_RESULTS)
# The packages whose versions decide the figures, recorded when installed.
PACKAGES = ("tensorflow", "keras", "keras-hub", "ai-edge-litert", "numpy", "pandas",
            "scikit-learn", "streamlit", "fastapi", "uvicorn", "optuna")  # fmt: skip
# Environment variables that change what a bench measures; put before the command when set.
ENVIRONMENT_PREFIX = "SENTIMENT_"
AT_MOST, AT_LEAST = "<=", ">="


@dataclass(frozen=True)
class Reference:
    """What a figure is measured against, in the same run: its name and value."""

    name: str
    value: float

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class Target:
    """A bound on a figure's ratio to its reference: ratio <= bound, or ratio >= bound."""

    op: str
    bound: float

    def __post_init__(self):
        if self.op not in (AT_MOST, AT_LEAST):
            raise ValueError(f"a target's op is {AT_MOST!r} or {AT_LEAST!r}, not {self.op!r}")

    def met_by(self, ratio: float) -> bool:
        """Whether a ratio keeps within the bound."""
        return ratio <= self.bound if self.op == AT_MOST else ratio >= self.bound

    def describe(self) -> str:
        """E.g. "<= 1.00x"."""
        return f"{self.op} {self.bound:.2f}x"


def at_most(bound: float) -> Target:
    """A target met when the figure is at most `bound` times its reference."""
    return Target(AT_MOST, bound)


def at_least(bound: float) -> Target:
    """A target met when the figure is at least `bound` times its reference."""
    return Target(AT_LEAST, bound)


@dataclass(frozen=True)
class Figure:
    """One measured figure.

    Attributes:
        name: what was measured, e.g. "one text, p50".
        value: the measurement.
        unit: e.g. "ms", "MiB", "texts/s", "accuracy".
        reference: the same-run figure it is compared with, if any.
        target: a bound on value / reference.value; needs a reference.
        group: the table the figure belongs to in the report (e.g. "seed 42").
    """

    name: str
    value: float
    unit: str
    reference: Reference | None = None
    target: Target | None = None
    group: str = ""

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))  # NumPy scalars too
        if self.target is not None and self.reference is None:
            raise ValueError(f"{self.name}: a target is a ratio, so it needs a reference")

    @property
    def ratio(self) -> float | None:
        """value / reference value, or None without a reference (or with a zero one)."""
        if self.reference is None or self.reference.value == 0:
            return None
        return self.value / self.reference.value

    @property
    def met(self) -> bool | None:
        """Whether the target was met; None without a target. No ratio never meets one."""
        if self.target is None:
            return None
        return self.ratio is not None and self.target.met_by(self.ratio)

    def to_json(self) -> dict:
        """The figure as written to a result file, with its ratio and verdict."""
        return {**asdict(self), "ratio": self.ratio, "met": self.met}

    @classmethod
    def from_json(cls, data: dict) -> "Figure":
        reference, target = data.get("reference"), data.get("target")
        return cls(
            name=data["name"],
            value=data["value"],
            unit=data["unit"],
            reference=Reference(**reference) if reference else None,
            target=Target(**target) if target else None,
            group=data.get("group", ""),
        )


@dataclass(frozen=True)
class Machine:
    """Where a bench ran."""

    cpu: str
    cores: int
    memory_mib: int
    python: str
    packages: dict[str, str]


@dataclass(frozen=True)
class Result:
    """One run of one bench, as its result file holds it."""

    bench: str
    variant: str
    command: str
    changed_arguments: dict[str, dict]
    date: str
    seconds: float | None
    machine: Machine
    load_average: dict[str, float]
    commit: str
    notes: list[str]
    figures: list[Figure] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        """E.g. "compare_models-sentiment.json"."""
        return f"{self.bench}{'-' + self.variant if self.variant else ''}.json"

    @property
    def missed(self) -> list[Figure]:
        """The figures whose target was missed."""
        return [f for f in self.figures if f.met is False]

    def to_json(self) -> dict:
        data = asdict(self)
        data["figures"] = [figure.to_json() for figure in self.figures]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Result":
        return cls(
            **{k: v for k, v in data.items() if k not in ("machine", "figures")},
            machine=Machine(**data["machine"]),
            figures=[Figure.from_json(f) for f in data["figures"]],
        )


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def memory_mib() -> int:
    """The machine's memory (MemTotal in /proc/meminfo), 0 where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def package_versions(names=PACKAGES) -> dict[str, str]:
    """The installed versions of the named packages (those not installed are left out)."""
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def this_machine() -> Machine:
    """The CPU, cores this process may use, memory, Python and key packages."""
    return Machine(
        cpu=cpu_model(),
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        memory_mib=memory_mib(),
        python=platform.python_version(),
        packages=package_versions(),
    )


def git_commit() -> str:
    """The checked-out commit, with "+changes" when tracked code outside the result files
    differs from it; "unknown" without git."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                      ":!bench/results", ":!docs/benchmarks.md")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def command_line(argv: list[str] | None = None, environ=None) -> str:
    """The command as typed: `python` and the arguments, after any SENTIMENT_ variables set."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    settings = [f"{k}={shlex.quote(v)}" for k, v in sorted(environ.items())
                if k.startswith(ENVIRONMENT_PREFIX)]  # fmt: skip
    return " ".join([*settings, "python", shlex.join(argv)])


def changed_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """The options given other values than their defaults: {dest: {"value", "default"}}.

    A run with fewer trials, seeds or seconds than the defaults is labelled by this.
    """
    changed = {}
    for dest, value in vars(args).items():
        default = parser.get_default(dest)
        if value != default:
            changed[dest] = {"value": jsonable(value), "default": jsonable(default)}
    return changed


def jsonable(value):
    """A value JSON can hold (paths and other objects as text, relative to the project)."""
    if isinstance(value, str | Path) and str(value).startswith(f"{ROOT}{os.sep}"):
        return Path(value).relative_to(ROOT).as_posix()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def variant_of(*parts: str | os.PathLike) -> str:
    """A result file's variant from data files and settings, e.g. ("…/Sentiment.csv",
    "minilm+fasttext") -> "sentiment-minilm-fasttext"."""
    words = [Path(part).stem if str(part).endswith(".csv") else str(part) for part in parts]
    text = "-".join(words).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in text).split())


class Run:
    """A bench run from its start: call `write` with the figures at the end.

    Args:
        script: the bench's `__file__` (its name is the bench's).
        parser: its argument parser, to record the options changed from their defaults.
        args: the parsed arguments.
    """

    def __init__(self, script: str, parser=None, args=None):
        self.bench = Path(script).stem
        self.command = command_line()
        self.changed = changed_arguments(parser, args) if parser and args else {}
        self.started = time.perf_counter()
        self.load_at_start = os.getloadavg()[0]

    def result(self, figures: list[Figure], variant: str = "", notes=(), date=None,
               timed: bool = True) -> Result:  # fmt: skip
        """The run's result, dated `date` (default now), its seconds since the start unless
        not `timed` (a result converted from an earlier run's output)."""
        return Result(
            bench=self.bench,
            variant=variant,
            command=self.command,
            changed_arguments=self.changed,
            date=(date or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            seconds=round(time.perf_counter() - self.started, 1) if timed else None,
            machine=this_machine(),
            load_average={"start": self.load_at_start, "end": os.getloadavg()[0]},
            commit=git_commit(),
            notes=list(notes),
            figures=list(figures),
        )

    def write(self, figures: list[Figure], variant: str = "", notes=(), folder=None,
              **when) -> Path:  # fmt: skip
        """Write the result file (replacing the last run's of this bench and variant), print
        each target's verdict, and return the file's path. `when`: see `result`."""
        return write_result(self.result(figures, variant, notes, **when), folder)


def write_result(result: Result, folder: str | os.PathLike | None = None) -> Path:
    """Write a result file into `folder` (default bench/results/); print the verdicts."""
    path = Path(folder or RESULTS_DIR) / result.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")
    for figure in result.figures:
        if figure.met is not None:
            print(f"target {figure.target.describe()} for {describe(figure)}: "
                  f"{'met' if figure.met else 'MISSED'}")  # fmt: skip
    print(f"result written to {path}")
    return path


def describe(figure: Figure) -> str:
    """E.g. "one text, p50 0.107 ms against Keras 0.615 ms (0.17x)"."""
    text = f"{figure.group + ': ' if figure.group else ''}{figure.name} {figure.value:.4g}"
    text += f" {figure.unit}".rstrip()
    if figure.reference is not None:
        text += f" against {figure.reference.name} {figure.reference.value:.4g}"
        text += f" ({figure.ratio:.3f}x)" if figure.ratio is not None else ""
    return text


def read_result(path: str | os.PathLike) -> Result:
    """A result file."""
    return Result.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def read_results(folder: str | os.PathLike | None = None) -> list[Result]:
    """Every result file in `folder` (default bench/results/), by file name."""
    return [read_result(p) for p in sorted(Path(folder or RESULTS_DIR).glob("*.json"))]
