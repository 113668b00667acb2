"""Copy a trained version into the shipped models/ folder, leaving out files that hold data.

How the shipped versions are made (the licence of the GOP tweets forbids committing them,
and a version's predictions.csv holds its test-set texts):

    python train.py --data ../shared/data/Sentiment.csv --arch minilm \\
        --models-dir /tmp/ship --json
    python tools/ship_version.py /tmp/ship VERSION --promote

The version is copied whole except the files named by --leave-out (default:
predictions.csv). Its metadata's `files` no longer lists them, and `files_left_out` says
why, so the registry's checksums still cover every file that ships. The Models tab
computes the predictions again, once, from a user's own copy of the data (the SHA-256 in
the metadata must match), as it does for versions older than predictions.csv.

So that a fresh clone's Calibration and Error analysis have something to show, every
shipped version also carries an evaluation on the bundled sample, committed with it:

    python -m pipeline evaluate VERSION --data data/sample.csv

(it lands in models/.evaluations/VERSION/). A version replaced in models/ should leave
with its evaluations: `python -m pipeline models` lists what is there, and deleting a
version through the registry (the Models tab) deletes its evaluations too.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import config  # noqa: E402
from pipeline.analysis.predictions import PREDICTIONS_FILE  # noqa: E402
from pipeline.predict import load_model  # noqa: E402
from pipeline.registry import Registry  # noqa: E402

WHY = "holds texts of the training data, whose licence forbids committing them"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the models folder the version was trained into")
    parser.add_argument("version")
    parser.add_argument("--to", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--leave-out", nargs="*", default=[PREDICTIONS_FILE])
    parser.add_argument("--promote", action="store_true")
    args = parser.parse_args()
    source = Path(args.source) / args.version
    target = Path(args.to) / args.version
    metadata = json.loads((source / "metadata.json").read_text(encoding="utf-8"))
    staging = target.with_name(f".{args.version}.shipping")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*args.leave_out))
    left_out = [name for name in args.leave_out if name in metadata.get("files", {})]
    metadata["files"] = {k: v for k, v in metadata["files"].items() if k not in left_out}
    metadata["files_left_out"] = dict.fromkeys(left_out, WHY)
    (staging / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    staging.rename(target)
    registry = Registry(args.to)
    load_model(registry, args.version)  # the shipped copy loads, with its checksums
    if args.promote:
        registry.promote(args.version)
    print(f"shipped {target} without {', '.join(left_out) or 'nothing'}")


if __name__ == "__main__":
    main()
