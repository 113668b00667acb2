"""The REST API over HTTP against the same predictor called in-process, on the active model.

    python bench/api.py --data data/Sentiment.csv [--runs 3] [--requests 300]

Starts `uvicorn api:app` on a free localhost port (the rate limit off for this process
only) and waits for `/health`. The reference for its start-up is a fresh Python process
that loads the active model with `load_predictor()` and scores one text, as the API's
start-up does (without the web server); it then predicts every text the requests will
send, grouped as they will be, for the memory reference. Then, per run, texts one per
request (`--requests` of them) and in batches of 100 (`--requests / 10`), over one
keep-alive `requests` session, each block followed by the same calls to
`load_predictor()` in this process (the two take turns, so a noisy machine slows both
alike). Ratios and targets:
- start-up to a healthy `/health` against the fresh process's load and first text (the
  medians of three of each, taking turns): at most 1.50x;
- one text's p50 over HTTP against the in-process p50: at most 2.00x on a transformer
  (the HTTP round trip is a few milliseconds; on `fasttext`, whose prediction takes a
  tenth of one, the ratio is only reported);
- a batch of 100's p50 over HTTP against in-process: at most 1.25x;
- the server's RSS at the end against the fresh process's after it has predicted the same
  texts in the same groups: at most 1.25x (FastAPI and uvicorn on top of the predictor).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from deploy.replicas import free_port, wait_healthy  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402

BATCH = 100
STARTS = 3  # start-ups timed, each after one of the reference
# The fresh-process reference: load the active model as api.py's start-up does, score one
# text and say so; then score the requests' texts (JSON on stdin) as the server will, and
# print the RSS.
PREDICTOR_ALONE = """
import json, re, sys
from pathlib import Path
from pipeline import load_predictor
predictor = load_predictor()
predictor.predict(["a first text"])
print("ready", predictor.metadata.get("architecture"), flush=True)
for texts in json.loads(sys.stdin.read()):
    predictor.predict(texts)
status = Path("/proc/self/status").read_text()
print(int(re.search(r"^VmRSS:\\s+(\\d+) kB", status, re.MULTILINE).group(1)) / 1024)
"""
TRANSFORMERS_PREFIX = "minilm"


def ms(seconds: list[float], q: int) -> float:
    return float(np.percentile(seconds, q)) * 1000


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def predictor_alone(requests_sent: list[list[str]]) -> tuple[float, float, str]:
    """A fresh process that loads the active model, then predicts what the requests will
    send: its seconds to the first prediction, its RSS (MiB) at the end, the architecture."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", PREDICTOR_ALONE], cwd=config.PROJECT_ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    line = ""
    while not line.startswith("ready ") and child.poll() is None:
        line = child.stdout.readline()
    seconds = time.perf_counter() - started
    output, _ = child.communicate(json.dumps(requests_sent))
    if child.returncode != 0:
        raise RuntimeError(f"the predictor's own process failed ({child.returncode})")
    return seconds, float(output.split()[-1]), line.split()[-1]


def start_server() -> tuple[subprocess.Popen, str, float]:
    """`uvicorn api:app` on a free port, once healthy: the process, its URL, the seconds."""
    port, started = free_port(), time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api:app", "--port", str(port)],
        cwd=config.PROJECT_ROOT,
        env={**os.environ, "SENTIMENT_API_REQUESTS_PER_MINUTE": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health", server, seconds=180)
    except BaseException:
        stop(server)
        raise
    return server, base, time.perf_counter() - started


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    texts = list(dict.fromkeys(load_labelled_data(args.data).frame["text"]))
    workload = []  # per run: the texts sent one per request, and the batches
    for number in range(args.runs):
        ones = [texts[(i * 37 + number) % len(texts)] for i in range(args.requests)]
        starts = range(number * 7, number * 7 + args.requests // 10 * BATCH, BATCH)
        workload.append((ones, [texts[start : start + BATCH] for start in starts]))
    sent = [[text] for ones, _ in workload for text in ones] + [b for _, bs in workload for b in bs]
    _, load_rss, architecture = predictor_alone(sent)
    # Start-ups take turns with the reference's, so a busy moment slows both alike.
    load_seconds, healthy = [], []
    for start in range(STARTS):
        load_seconds.append(predictor_alone([])[0])
        server, base, seconds = start_server()
        healthy.append(seconds)
        if start < STARTS - 1:
            stop(server)
    try:
        session, url = requests.Session(), f"{base}/predict"

        def post(body):
            return lambda: session.post(url, json=body, timeout=60).raise_for_status()

        first = timed(post({"text": texts[0]}))
        from pipeline import load_predictor

        predictor = load_predictor()
        predictor.predict(texts[:1])
        seconds = {key: [] for key in ("http one", "local one", "http batch", "local batch")}
        for number, (ones, batches) in enumerate(workload):
            seconds["http one"] += [timed(post({"text": t})) for t in ones]
            seconds["local one"] += [timed(lambda t=t: predictor.predict([t])) for t in ones]
            seconds["http batch"] += [timed(post({"texts": b})) for b in batches]
            seconds["local batch"] += [timed(lambda b=b: predictor.predict(b)) for b in batches]
            print(f"run {number + 1} of {args.runs} done", flush=True)
        server_rss = rss_mib(server.pid)
    finally:
        stop(server)
    transformer = architecture.startswith(TRANSFORMERS_PREFIX)
    figures = [
        Figure(f"start-up to a healthy /health, median of {STARTS}", statistics.median(healthy),
               "s", Reference("a fresh process loading the model, one text, median",
                              statistics.median(load_seconds)), at_most(1.5)),
        Figure("first prediction over HTTP", first * 1000, "ms"),
        Figure("one text per request, p50", ms(seconds["http one"], 50), "ms",
               Reference("in-process predict, p50", ms(seconds["local one"], 50)),
               at_most(2.0) if transformer else None),
        Figure("one text per request, p95", ms(seconds["http one"], 95), "ms",
               Reference("in-process predict, p95", ms(seconds["local one"], 95))),
        Figure(f"{BATCH} texts per request, p50", ms(seconds["http batch"], 50), "ms",
               Reference("in-process predict, p50", ms(seconds["local batch"], 50)),
               at_most(1.25)),
        Figure(f"{BATCH} texts per request, p95", ms(seconds["http batch"], 95), "ms",
               Reference("in-process predict, p95", ms(seconds["local batch"], 95))),
        Figure("server RSS at the end", server_rss, "MiB",
               Reference("a fresh process loading the model, the same texts", load_rss),
               at_most(1.25)),
    ]  # fmt: skip
    notes = [f"The active model is a {architecture} version; {len(texts):,} distinct texts."]
    run.write(figures, variant_of(args.data), notes)


if __name__ == "__main__":
    main()
