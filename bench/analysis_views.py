"""How fast the Models tab's error analysis answers once a version's predictions are loaded.

Once they are loaded nothing is recomputed, so a rerun that shows another part of the
analysis should cost about what any rerun costs. This runs the real dashboard script with
Streamlit's AppTest (server-side time of a rerun; the browser's drawing is not included)
on the shipped `fasttext` version with its GOP test predictions, and times reruns that
change the error-analysis view: another confusion cell, the slices, the behavioural checks.

The reference, in the same run, is a rerun that changes nothing in the analysis (another
value of a Data-tab widget): every rerun redraws the whole page, so the difference is what
the analysis itself costs. Target, for each view's median: at most 2.00x the reference's
(the analysis may add one plain rerun's time, no more).

    python bench/analysis_views.py --data ../shared/data/Sentiment.csv
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.analysis.predictions import compute_predictions  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.registry import Registry  # noqa: E402

REPEATS = 5


def timed(at, change) -> float:
    """Seconds for one rerun after `change(at)` sets a widget."""
    change(at)
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.KAGGLE_DATA_PATH))
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    with tempfile.TemporaryDirectory(prefix="analysis-views-") as scratch:
        figures, notes = measure(args.data, Path(scratch))
    run.write(figures, variant_of(args.data), notes)


def measure(data: str, scratch: Path) -> tuple[list[Figure], list[str]]:
    """Time the reruns on a copy of the shipped models in `scratch`; the figures and notes."""
    from streamlit.testing.v1 import AppTest

    shipped = Registry(config.DEFAULT_MODELS_DIR)
    version = next(
        v for v in shipped.versions() if shipped.metadata(v)["architecture"] == "fasttext"
    )
    folder = scratch / "models"
    shutil.copytree(config.DEFAULT_MODELS_DIR, folder)
    os.environ[config.CACHE_DIR_ENV] = str(folder.parent / "cache")
    registry = Registry(folder)
    compute_predictions(registry, version, load_labelled_data(data))
    os.environ[config.MODELS_DIR_ENV] = str(folder)

    at = AppTest.from_file(str(config.PROJECT_ROOT / "streamlit_app.py"), default_timeout=300)
    started = time.perf_counter()
    at.run()
    at.selectbox(key="models_detail").set_value(version)
    at.run()
    first = time.perf_counter() - started
    labels = registry.metadata(version)["labels"]
    cells = [(t, p) for t in labels for p in labels if t != p]

    def set_cell(true, predicted):
        def change(app):
            app.selectbox(key=f"analysis_true_{version}_test").set_value(true)
            app.selectbox(key=f"analysis_predicted_{version}_test").set_value(predicted)

        return change

    for true, predicted in cells:  # the first look at each cell explains its texts once
        timed(at, set_cell(true, predicted))
    figures = {"confusion cell": [], "slices": [], "behavioural checks": [], "reference": []}
    sources = at.radio(key="data_source").options
    for i in range(REPEATS):
        true, predicted = cells[i % len(cells)]
        at.radio(key="analysis_section").set_value("Confusion cells")
        at.run()
        figures["confusion cell"].append(timed(at, set_cell(true, predicted)))
        figures["slices"].append(
            timed(at, lambda app: app.radio(key="analysis_section").set_value("Slices"))
        )
        figures["behavioural checks"].append(
            timed(at, lambda app: app.radio(key="analysis_section").set_value("Behavioural checks"))
        )
        source = sources[i % len(sources)]
        figures["reference"].append(
            timed(at, lambda app, s=source: app.radio(key="data_source").set_value(s))
        )
    reference_seconds = figures.pop("reference")
    reference = statistics.median(reference_seconds)
    print(f"version {version} ({registry.metadata(version)['architecture']})")
    print(f"first load of the page and the version's analysis: {first:.2f} s")
    print("| rerun that shows | median s | max s | vs reference |")
    print("|---|---|---|---|")
    rows = [Figure("first load of the page and the version's analysis", first, "s")]
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {max(values):.3f} | {median / reference:.2f}x |")
        rows.append(
            Figure(
                f"a rerun showing the {name}, median",
                median,
                "s",
                Reference("a rerun that changes nothing in the analysis, median", reference),
                at_most(2.0),
            )
        )
        rows.append(Figure(f"a rerun showing the {name}, max", max(values), "s"))
    rows.append(
        Figure("a rerun that changes nothing in the analysis, max", max(reference_seconds), "s")
    )
    notes = [f"Version {version} ({registry.metadata(version)['architecture']}), "
             f"{REPEATS} reruns of each kind."]  # fmt: skip
    return rows, notes


if __name__ == "__main__":
    main()
