"""The REST API over HTTP: start-up, one text and batches, on the active model.

    python bench/api.py --data data/Sentiment.csv [--runs 3] [--requests 300]

Starts `uvicorn api:app` on a free localhost port (the rate limit off for this process
only), waits for `/health`, then over one keep-alive `requests` session, per run: one text
per request, `--requests` times, and `--requests / 10` batches of 100 texts. Reports the
time to a healthy `/health`, the first prediction, each run's p50 / p95, and the server's
RSS at the end.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402

from deploy.replicas import free_port, wait_healthy  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402

BATCH = 100


def ms(seconds: list[float], q: int) -> float:
    return float(np.percentile(seconds, q)) * 1000


def timed(session: requests.Session, url: str, body: dict) -> float:
    started = time.perf_counter()
    session.post(url, json=body, timeout=60).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    texts = list(dict.fromkeys(load_labelled_data(args.data).frame["text"]))
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api:app", "--port", str(port)],
        cwd=config.PROJECT_ROOT,
        env={**os.environ, "SENTIMENT_API_REQUESTS_PER_MINUTE": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(f"{base}/health", server, seconds=180)
        healthy = time.perf_counter() - started
        session, url = requests.Session(), f"{base}/predict"
        first = timed(session, url, {"text": texts[0]})
        print(f"uvicorn api:app to a healthy /health: {healthy:.1f} s; first prediction "
              f"{first * 1000:.0f} ms")  # fmt: skip
        for run in range(args.runs):
            one = [
                timed(session, url, {"text": texts[(i * 37 + run) % len(texts)]})
                for i in range(args.requests)
            ]
            batches = [
                timed(session, url, {"texts": texts[start : start + BATCH]})
                for start in range(run * 7, run * 7 + args.requests // 10 * BATCH, BATCH)
            ]
            print(
                f"run {run + 1}: one text p50 {ms(one, 50):.1f} ms, p95 {ms(one, 95):.1f} ms; "
                f"{BATCH} texts p50 {ms(batches, 50):.0f} ms, p95 {ms(batches, 95):.0f} ms"
            )
        status = Path(f"/proc/{server.pid}/status").read_text()
        rss = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024
        print(f"server RSS at the end: {rss:.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
