"""Command line: `python -m pipeline predict ...`, `... models`, `... export`, `... copy`,
`... errors`, `... evaluate`, `... sweep`, `... label-issues`, `... pick`, `... drift`."""

import json
import shlex
import sys

from pipeline import config
from pipeline.cli import ArgumentParser, run
from pipeline.errors import DataError, RegistryError, SentimentError
from pipeline.registry import Registry
from pipeline.sweep.cli import add_sweep_parser, sweep_command

ENGINES = ("local", "ray")


def build_parser() -> ArgumentParser:
    """The parser with the `predict`, `models` and `export` subcommands."""
    parser = ArgumentParser(prog="python -m pipeline", description="Use trained sentiment models.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="score texts or a CSV file")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score")
    predict.add_argument(
        "--input",
        help="CSV file to score; with --engine ray also a Parquet file, a folder of either, "
        "or an s3:// URL",
    )
    predict.add_argument(
        "--output",
        help="where to write the scored CSV (with --input); with --engine ray, Parquet if it "
        "ends in .parquet",
    )
    predict.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process (default); ray: a pool of Ray actors (pip install -r "
        "requirements-cluster.txt; see docs/scaling.md)",
    )
    predict.add_argument(
        "--ray-address",
        help="with --engine ray: the cluster's host:port (default: $RAY_ADDRESS, else Ray "
        "started on this machine)",
    )
    predict.add_argument(
        "--concurrency",
        type=int,
        help="with --engine ray: how many actors score at once (default 1)",
    )
    predict.add_argument(
        "--text-column",
        help="the column of texts (default: guessed from the first rows: "
        f"{config.DEFAULT_TEXT_COLUMN!r} if it holds texts, else the column with the longest "
        "texts, never a numeric one)",
    )
    models = commands.add_parser("models", help="list the model versions")
    export = commands.add_parser(
        "export", help="write a version as a TensorFlow SavedModel for TF Serving"
    )
    export.add_argument(
        "--out", required=True, help="a new or empty folder, e.g. serving/sentiment/1"
    )
    copy = commands.add_parser(
        "copy", help="copy versions to another models location, e.g. to seed a bucket"
    )
    copy.add_argument("--to", required=True, help="the target folder or URL (s3://bucket/prefix)")
    copy.add_argument("versions", nargs="*", metavar="VERSION", help="default: every version")
    errors = commands.add_parser(
        "errors", help="print a version's worst test-set errors (or its slices) as CSV"
    )
    errors.add_argument("version", nargs="?", metavar="VERSION", help="default: the active one")
    errors.add_argument("--limit", type=int, default=50, help="how many errors (default 50)")
    errors.add_argument(
        "--slices", action="store_true", help="accuracy and macro-F1 by slice instead"
    )
    errors.add_argument(
        "--data", help="the CSV the version was trained on, for versions saved without "
        "their test predictions",
    )  # fmt: skip
    errors.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN)
    errors.add_argument("--text-column", default=config.DEFAULT_TEXT_COLUMN)
    evaluate = commands.add_parser(
        "evaluate",
        help="score a version on a labelled CSV and keep the evaluation beside it (the "
        "Models tab shows it)",
    )
    evaluate.add_argument("version", nargs="?", metavar="VERSION", help="default: the active one")
    evaluate.add_argument("--data", required=True, help="the labelled CSV, e.g. data/sample.csv")
    evaluate.add_argument("--text-column", help="text column (default: guessed, and said)")
    evaluate.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN)
    evaluate.add_argument(
        "--json", action="store_true", help="print the stored evaluation as JSON instead"
    )
    sweep = add_sweep_parser(commands)
    issues = commands.add_parser(
        "label-issues", help="print a labelled CSV's likely label errors as CSV, worst first"
    )
    issues.add_argument("--data", required=True, help="the labelled CSV")
    issues.add_argument("--text-column", default=config.DEFAULT_TEXT_COLUMN, help="text column")
    issues.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN, help="label column")
    issues.add_argument("--top", type=int, help="print only the N worst (default: all)")
    pick = add_pick_parser(commands)
    drift = add_drift_parser(commands)
    for sub in (predict, models, export, copy, errors, evaluate, sweep, pick, drift):
        sub.add_argument(
            "--models-dir", help=f"models folder (default: ${config.MODELS_DIR_ENV} or models/)"
        )
    for sub in (predict, export):
        sub.add_argument("--version", help="model version (default: the active one)")
    return parser


def add_pick_parser(commands) -> ArgumentParser:
    """The `pick` subcommand: the texts of a pool to label next (pipeline.active)."""
    from pipeline.active import COLD_START, DEFAULT_STRATEGY, STRATEGIES

    pick = commands.add_parser(
        "pick", help="choose the texts to label next from a CSV of unlabelled texts"
    )
    pick.add_argument("--data", required=True, help="the pool: a CSV of unlabelled texts")
    pick.add_argument("--text-column", help="text column (default: guessed, and said)")
    pick.add_argument(
        "--labelled",
        help="a labelled CSV: its texts, and copies of them, are never picked (its text "
        "column: the pool's if it has one, else guessed, and said)",
    )
    pick.add_argument("--n", type=int, default=100, help="how many texts (default 100)")
    pick.add_argument(
        "--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
        help=f"how to choose (default {DEFAULT_STRATEGY}; see docs/workbench.md)",
    )  # fmt: skip
    pick.add_argument("--output", required=True, help="where to write the picked rows (CSV)")
    pick.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    pick.add_argument(
        "--version",
        help=f"the model whose uncertainty chooses (default: the active one); {COLD_START!r} "
        "for a cold start without a model",
    )
    pick.add_argument("--json", action="store_true", help="print the summary as JSON")
    return pick


def add_drift_parser(commands) -> ArgumentParser:
    """The `drift` subcommand: a window of texts against a version's reference
    (pipeline.monitor.drift)."""
    drift = commands.add_parser(
        "drift", help="compare a window of texts (a prediction log or a CSV) with a version's "
        "reference: label mix, confidence, text drift, estimated accuracy",
    )  # fmt: skip
    drift.add_argument("--version", help="model version (default: the active one)")
    drift.add_argument(
        "--current", required=True,
        help="the window: `log` (the registry's own prediction log), an exported prediction "
        "log (its stored probabilities are used) or a CSV of texts (scored with the version)",
    )  # fmt: skip
    drift.add_argument(
        "--last", type=int,
        help="judge only the most recent N texts of the window (default: all of them)",
    )  # fmt: skip
    drift.add_argument(
        "--reference",
        help="a CSV of texts to compare with (default: the version's saved test predictions, "
        "else its newest evaluation, and said); a `sentiment` or `label` column of the "
        "version's labels calibrates the accuracy estimate",
    )  # fmt: skip
    drift.add_argument(
        "--text-column",
        help="the text column of the --current CSV, and of the --reference CSV if it has one "
        "(default: guessed, and said)",
    )
    drift.add_argument("--seed", type=int, default=0, help="the text classifier's (default 0)")
    drift.add_argument("--json", action="store_true", help="print the findings as JSON")
    return drift


def format_probabilities(probabilities: dict[str, float]) -> str:
    """ "negative=0.912 neutral=0.061 positive=0.027"."""
    return " ".join(f"{label}={p:.3f}" for label, p in probabilities.items())


def predict_command(args) -> int:
    """Score texts given as arguments, or a CSV file into another."""
    if bool(args.input) != bool(args.output):
        raise DataError("--input and --output go together: give both, or texts instead.")
    if args.input and args.texts:
        raise DataError("Give texts or --input, not both.")
    if not args.input and not args.texts:
        raise DataError("Nothing to score: give one or more texts, or --input and --output.")
    if args.engine != "local" and not args.input:
        raise DataError(f"--engine {args.engine} scores files: give --input and --output.")
    if args.engine == "ray":
        return predict_on_ray(args)
    if args.ray_address or args.concurrency is not None:
        raise DataError("--ray-address and --concurrency go with --engine ray.")
    from pipeline.monitor.log import log_predictions
    from pipeline.predict import load_predictor, score_csv

    predictor = load_predictor(args.models_dir, args.version)

    def log(texts: list[str], probabilities) -> None:
        log_predictions(
            texts, probabilities, predictor.labels, predictor.version, "batch", args.models_dir
        )

    if args.texts:
        results = predictor.predict(args.texts)
        for text, result in zip(args.texts, results, strict=True):
            print(f"{result['label']}\t{format_probabilities(result['probabilities'])}\t{text}")
        log(
            args.texts, [[r["probabilities"][label] for label in predictor.labels] for r in results]
        )
        flush_log(args.models_dir)
        return 0

    def show(rows: int, share: float) -> None:
        bar = "#" * int(share * 30)
        progress.line(f"[{bar:<30}] {share:4.0%}  {rows:,} rows")

    with ProgressLine() as progress:
        rows = score_csv(
            predictor,
            args.input,
            args.output,
            args.text_column,
            on_progress=show,
            on_guess=say_guess,
            on_scored=log,
        )
    return scored(rows, args)


def predict_on_ray(args) -> int:
    """Score --input into --output with a pool of Ray actors (pipeline.batch_ray)."""
    try:
        from pipeline.batch_ray import score_with_ray
    except ImportError as exc:
        raise DataError(
            f"--engine ray needs Ray ({exc.name} is missing): pip install -r "
            "requirements-cluster.txt"
        ) from exc
    from pipeline.monitor.log import log_predictions

    registry = Registry(config.models_dir(args.models_dir))
    version = registry.resolve(args.version)
    labels = registry.metadata(version)["labels"]

    def log(texts: list[str], probabilities) -> None:
        log_predictions(texts, probabilities, labels, version, "batch", args.models_dir)

    with ProgressLine() as progress:
        rows = score_with_ray(
            args.input,
            args.output,
            args.models_dir,
            version,
            args.text_column,
            address=args.ray_address,
            concurrency=1 if args.concurrency is None else args.concurrency,
            on_guess=say_guess,
            on_scored=log,
            on_progress=lambda rows: progress.line(f"{rows:,} rows scored"),
        )
    return scored(rows, args)


class ProgressLine:
    """One progress line on stderr, rewritten in place and ended when the block ends, so
    what follows (even an error) has its own line."""

    def __init__(self):
        self.shown = False

    def line(self, text: str) -> None:
        print(f"\r{text}", end="", file=sys.stderr, flush=True)
        self.shown = True

    def __enter__(self) -> "ProgressLine":
        return self

    def __exit__(self, *exc) -> None:
        if self.shown:
            print(file=sys.stderr)


def say_guess(column: str) -> None:
    """Say which column of a CSV was guessed to hold the texts."""
    print(
        f"scoring the texts of column {column!r} (guessed from the first rows; "
        "--text-column chooses another)",
        file=sys.stderr,
    )


def scored(rows: int, args) -> int:
    """Say what a CSV scoring wrote, store the prediction log's queue, and succeed."""
    print(f"wrote {rows:,} scored rows to {args.output}", file=sys.stderr)
    flush_log(args.models_dir)
    return 0


def flush_log(models_dir: str | None) -> None:
    """Store what the prediction log holds before the command ends, or say why it could not."""
    from pipeline.monitor.log import flush_shared

    try:
        written = flush_shared(models_dir)
    except SentimentError as exc:
        print(f"warning: the prediction log was not written: {exc}", file=sys.stderr)
        return
    if written:
        print(f"appended {written:,} predictions to the prediction log", file=sys.stderr)


def models_command(args) -> int:
    """List versions with their metrics; the active one is marked with *."""
    registry = Registry(config.models_dir(args.models_dir))
    rows = registry.list()
    if registry.unavailable:
        print(f"error: {registry.unavailable} Versions cached on this machine:", file=sys.stderr)
    if not rows:
        print(f"no models in {registry.root}")
        return 1 if registry.unavailable else 0
    print(f"  {'version':22} {'architecture':12} {'accuracy':>8} {'macro-F1':>8}  data")
    for row in rows:
        mark = "*" if row["active"] else " "
        metrics = row.get("metrics", {})
        accuracy, macro_f1 = (
            metrics.get("accuracy", float("nan")),
            metrics.get("macro_f1", float("nan")),
        )
        print(
            f"{mark} {row['version']:22} {row.get('architecture', '?'):12} "
            f"{accuracy:8.3f} {macro_f1:8.3f}  {row.get('data', {}).get('name', '?')}"
        )
    return 1 if registry.unavailable else 0


def export_command(args) -> int:
    """Write a version as a SavedModel whose signature takes raw strings."""
    from pipeline.export import SIGNATURE, export_saved_model

    version = Registry(config.models_dir(args.models_dir)).resolve(args.version)
    out_dir = export_saved_model(args.models_dir, version, args.out)
    outputs = "probabilities, label, labels"
    print(f"exported {version} to {out_dir} (signature {SIGNATURE}: text -> {outputs})")
    return 0


def copy_command(args) -> int:
    """Copy versions (ids kept) and, if the target has none, the active pointer."""
    source = Registry(config.models_dir(args.models_dir))
    target = Registry(config.models_dir(args.to))
    versions = [source.resolve(v) for v in args.versions] or source.versions()
    for version in versions:
        done = target.copy_in(source, version)
        print(f"{version}: {'copied' if done else 'already there'}", file=sys.stderr)
    active = source.active_version()
    if target.active_version() is None and active in target.versions():
        target.promote(active)
        print(f"{active} is active in {target.root}", file=sys.stderr)
    return 0


def errors_command(args) -> int:
    """Print the worst errors (most confident first) or the slice table, as CSV."""
    from pipeline.analysis.confusion import worst_errors
    from pipeline.analysis.predictions import compute_predictions, load_predictions
    from pipeline.analysis.slices import slice_metrics
    from pipeline.csvfile import neutralize_formulas
    from pipeline.data import load_labelled_data

    if args.limit < 1:
        raise DataError("--limit must be at least 1.")
    registry = Registry(config.models_dir(args.models_dir))
    version = registry.resolve(args.version)
    predictions = load_predictions(registry, version)
    if predictions is None:
        if not args.data:
            raise DataError(
                f"Version {version} was saved before test predictions were kept. Give the CSV "
                "it was trained on with --data, and they are computed once."
            )
        data = load_labelled_data(args.data, args.text_column, args.label_column)
        predictions = compute_predictions(registry, version, data)
    if args.slices:
        table = slice_metrics(predictions, registry.metadata(version)["labels"]).round(4)
    else:
        table = neutralize_formulas(worst_errors(predictions, args.limit))
    table.to_csv(sys.stdout, index=False)
    return 0


def evaluate_command(args) -> int:
    """Score a version on a labelled CSV, store the evaluation, print its metrics."""
    from pipeline.analysis.evaluations import evaluate_version
    from pipeline.wording import percent, plural

    registry = Registry(config.models_dir(args.models_dir))
    version = registry.resolve(args.version)

    shown = False

    def show(done: int, total: int) -> None:
        nonlocal shown
        print(f"\rscoring {done:,} / {total:,} texts", end="", file=sys.stderr, flush=True)
        shown = True

    command = ["python", "-m", "pipeline", "evaluate", version, "--data", args.data]
    if args.text_column:
        command += ["--text-column", args.text_column]
    command += ["--label-column", args.label_column]
    try:
        record = evaluate_version(
            registry, version, args.data, args.text_column, args.label_column,
            on_progress=show, command=shlex.join(command),
        )  # fmt: skip
    finally:
        if shown:  # end the progress line, so what follows (even an error) has its own line
            print(file=sys.stderr)
    data = record["data"]
    where = registry.evaluation_location(version, record["evaluation"])
    if args.json:
        print(json.dumps({**record, "path": where}, indent=2))
        return 0
    guessed = " (guessed; change it with --text-column)" if data["text_column_guessed"] else ""
    metrics = record["metrics"]
    print(f"version {version} on {data['path']}: {data['about']}")
    print(
        f"{plural(data['rows_used'], 'row')} used of {data['rows_read']:,}; text column "
        f"{data['text_column']!r}{guessed}, label column {data['label_column']!r}"
    )
    print(
        f"accuracy {metrics['accuracy']:.3f}  macro-F1 {metrics['macro_f1']:.3f}  "
        f"ECE {record['calibration']['ece']:.3f}"
    )
    print(f"  {'class':12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label, figures in metrics["per_class"].items():
        print(
            f"  {label:12} {figures['precision']:9.3f} {figures['recall']:7.3f} "
            f"{figures['f1']:6.3f} {figures['support']:8,}"
        )
    checks = ", ".join(
        f"{check} {percent(result['pass_rate'])}"
        for check, result in record["behaviour"].items()
        if result["pass_rate"] is not None
    )
    print(f"behavioural checks passed: {checks}")
    print(f"stored as evaluation {record['evaluation']} in {where}")
    return 0


def label_issues_command(args) -> int:
    """Print likely label errors (confident learning on out-of-fold probabilities) as CSV."""
    from pipeline.analysis.label_issues import cached_label_issues
    from pipeline.csvfile import neutralize_formulas
    from pipeline.data import load_labelled_data

    if args.top is not None and args.top < 1:
        raise DataError("--top must be at least 1.")
    data = load_labelled_data(args.data, args.text_column, args.label_column)
    issues = cached_label_issues(data)
    print(f"{len(issues):,} likely label errors in {len(data.frame):,} rows", file=sys.stderr)
    neutralize_formulas(issues.head(args.top).round(4)).to_csv(sys.stdout, index=False)
    return 0


def read_pick_inputs(args):
    """`pick`'s pool, labelled file (or None) and predictor (None for a cold start), with
    what was guessed said on stderr."""
    from pipeline.active import COLD_START
    from pipeline.active.files import read_text_file
    from pipeline.predict import load_predictor

    pool = read_text_file(args.data, args.text_column)
    if pool.guessed:
        say(f"picking from the texts of column {pool.text_column!r} of {pool.name} (guessed "
            "from the first rows; --text-column chooses another)")  # fmt: skip
    labelled = None
    if args.labelled:
        labelled = read_text_file(args.labelled, preferred=pool.text_column)
        if labelled.text_column != pool.text_column:  # not the pool's column: a guess
            say(f"leaving out the texts of column {labelled.text_column!r} of {labelled.name}")
    if (args.version or "").lower() == COLD_START:
        return pool, labelled, None
    try:
        return pool, labelled, load_predictor(args.models_dir, args.version)
    except RegistryError as exc:
        raise RegistryError(f"{exc} To pick without a model, give --version none.") from exc


def pick_command(args) -> int:
    """Write the texts of a pool to label next, with the score that chose each."""
    from pipeline.active import RANDOM, pick_texts
    from pipeline.active.files import check_output, write_picks

    if args.n < 1:
        raise DataError(f"--n must be at least 1; got {args.n}.")
    output = check_output(args.output, [args.data] + ([args.labelled] if args.labelled else []))
    pool, labelled, predictor = read_pick_inputs(args)
    shown = False

    def show(done: int, total: int) -> None:
        nonlocal shown
        print(f"\rscoring {done:,} / {total:,} texts", end="", file=sys.stderr, flush=True)
        shown = True

    exclude = labelled.frame[labelled.text_column] if labelled else ()
    try:
        picked, summary = pick_texts(
            predictor, pool.frame, pool.text_column, args.n, args.strategy, exclude, args.seed,
            on_progress=show,
        )  # fmt: skip
    finally:
        if shown:  # end the progress line, so what follows (even an error) has its own line
            print(file=sys.stderr)
    if summary.cold_start and args.strategy != RANDOM:
        say(f"cold start (no model): {args.strategy} falls back to the k-means spread, the text "
            f"nearest the centre of each of {summary.clusters:,} clusters")  # fmt: skip
    write_picks(picked, output)
    if args.json:
        print(json.dumps({
            **summary.as_dict(), "data": str(args.data), "text_column_guessed": pool.guessed,
            "labelled": args.labelled, "labelled_text_column": labelled and labelled.text_column,
            "output": str(output),
        }, indent=2))  # fmt: skip
    else:
        print_pick_summary(summary, pool, output)
    return 0


def print_pick_summary(summary, pool, output) -> None:
    """`pick`'s summary in three lines: what was picked, what was left out, the score."""
    from pipeline.active import FROM_MODEL

    scores = f"model {summary.version}" if summary.score_from == FROM_MODEL else summary.score_from
    print(
        f"picked {summary.picked:,} of {summary.candidates:,} candidate texts by "
        f"{summary.strategy} (scores from {scores}) into {output}"
    )
    print(
        f"{pool.name}: {summary.rows_in_pool:,} rows; left out {summary.empty_texts:,} empty, "
        f"{summary.excluded_as_labelled:,} already labelled (or copies of labelled texts), "
        f"{summary.duplicates_dropped:,} copies of other rows; text column "
        f"{summary.text_column!r}{' (guessed)' if pool.guessed else ''}"
    )
    print(f"pick_score: {summary.score}")


def drift_command(args) -> int:
    """Print whether a window drifted from the version's reference, and why; exit 0 either way."""
    from pipeline.monitor import drift

    registry = Registry(config.models_dir(args.models_dir))
    version = registry.resolve(args.version)
    if args.current == "log":
        current = logged_window(registry, version)
    else:
        current = drift.current_frame(registry, version, args.current, args.text_column)
    if args.last is not None:
        if args.last < 1:
            raise DataError("--last takes a number of texts, 1 or more.")
        current = current.tail(args.last).reset_index(drop=True)
    reference_column = args.text_column
    if args.reference and args.text_column:  # the reference's own column may differ: guessed
        reference_column = (
            args.text_column if has_column(args.reference, args.text_column) else None
        )
    reference = drift.reference_frame(registry, version, args.reference, reference_column)
    for frame in (reference, current):
        say_source(frame.attrs.get("source", {}))
    labels = registry.metadata(version)["labels"]
    calibration = drift.calibration_frame(registry, version, reference)
    findings = drift.check_drift(reference, current, labels, args.seed, calibration)
    sources = {"version": version, "current": current.attrs.get("source"),
               "reference": reference.attrs.get("source")}  # fmt: skip
    if args.json:
        print(json.dumps({**sources, **findings}, indent=2))
    else:
        print_drift(version, findings)
    return 0


def logged_window(registry: Registry, version: str):
    """The registry's own prediction log, this version's rows (pipeline.monitor.log)."""
    from pipeline.monitor.drift import log_frame
    from pipeline.monitor.log import PredictionLog, log_location

    location = log_location(str(registry.root))
    log = PredictionLog(location).read()
    if log.empty:
        raise DataError(
            f"The prediction log at {location} is empty: turn it on with "
            "SENTIMENT_PREDICTION_LOG=texts (docs: Monitoring) and let the model answer first."
        )
    labels = registry.metadata(version)["labels"]
    frame = log_frame(log, "The prediction log", version, labels)
    frame.attrs["source"]["name"] = location
    return frame


def has_column(path: str, column: str) -> bool:
    """Whether a CSV's header names a column."""
    from pipeline.csvfile import read_csv

    return column in read_csv(path, max_rows=0)[0].columns


def say_source(source: dict) -> None:
    """What was guessed or left out of a CSV, on stderr."""
    if source.get("text_column_guessed"):
        say(f"texts of {source['name']}: column {source['text_column']!r} (guessed from the "
            "first rows; --text-column chooses another)")  # fmt: skip
    if source.get("kind") == "evaluation":
        say(f"reference: the version's newest evaluation, {source['name']} (it has no saved "
            "test part; --reference gives another)")  # fmt: skip
    if source.get("rows_of_other_versions"):
        say(f"{source['name']}: left out {source['rows_of_other_versions']:,} of "
            f"{source['rows_read']:,} rows, logged by other versions")  # fmt: skip


def print_drift(version: str, findings: dict) -> None:
    """The findings in a few lines: the verdict and its reasons, then each figure."""
    from pipeline.wording import percent

    verdict = "DRIFT" if findings["drift"] else "no drift"
    print(f"{verdict}: {findings['texts']:,} texts against {findings['reference_texts']:,} of "
          f"version {version}'s reference")  # fmt: skip
    for reason in findings["reasons"]:
        print(f"  - {reason}")
    mix = findings["label_mix"]
    shares = ", ".join(
        f"{label} {percent(mix['reference'][label])} -> {percent(share)}"
        for label, share in mix["current"].items()
    )
    print(f"label mix: {shares} (Jensen-Shannon {mix['jensen_shannon']:.3f}, "
          f"threshold {mix['threshold']})")  # fmt: skip
    confidence = findings["confidence"]
    print(f"confidence: mean {confidence['reference_mean']:.3f} -> {confidence['current_mean']:.3f}"
          f" (KS {confidence['ks_statistic']:.3f}, threshold {confidence['threshold']}; "
          f"p = {confidence['p_value']:.2g})")  # fmt: skip
    text = findings["text"]
    if "skipped" in text:
        print(f"text: {text['skipped']}")
    else:
        words = ", ".join(w["word"] for w in text["top_words"]) or "none"
        marks = f"words that mark the current texts: {words}" if text["drift"] else "no drift"
        print(f"text: ROC AUC {text['roc_auc']:.3f} (threshold {text['threshold']}); {marks}")
    accuracy = findings["estimated_accuracy"]
    if "skipped" in accuracy:
        print(f"estimated accuracy: not available: {accuracy['skipped']}")
    else:
        print(f"estimated accuracy: {accuracy['estimated']:.3f} (reference "
              f"{accuracy['reference_accuracy']:.3f} on {accuracy['calibration_texts']:,} "
              "labelled texts)")  # fmt: skip


def say(message: str) -> None:
    """A note on stderr: what was guessed or fallen back to, so it is never silent."""
    print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand. Returns the exit code."""
    args = build_parser().parse_args(argv)
    commands = {
        "predict": predict_command,
        "models": models_command,
        "export": export_command,
        "copy": copy_command,
        "errors": errors_command,
        "evaluate": evaluate_command,
        "sweep": sweep_command,
        "label-issues": label_issues_command,
        "pick": pick_command,
        "drift": drift_command,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(run(main))
