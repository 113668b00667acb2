"""Cold start: from `streamlit run` to the first prediction visible in a real browser.

    python bench/cold_start.py [--runs 3]

Drives Debian's Chromium with Playwright. The reference, in the same run, is a bare
`python -c "import tensorflow"`, which the dashboard no longer pays at start-up, timed
before each cold start (medians compared). Targets:
- the median cold start to the first prediction: at most 1.50x the bare import (Streamlit's
  start, the page in Chromium, loading the model and one prediction, together within half
  as much again as TensorFlow's import alone);
- the app's RSS after its first prediction (the largest of the runs): at most 1.00x the
  bare import's RSS, or the app pays for TensorFlow after all.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.record import Figure, Reference, Run, at_most  # noqa: E402

BARE_IMPORT = (
    "import re, tensorflow; from pathlib import Path; "
    "print(re.search(r'VmRSS:\\s+(\\d+)', Path('/proc/self/status').read_text()).group(1))"
)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_cold_start(browser) -> dict:
    """Seconds to the server's health answer, to the page, and to the first prediction."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port",
         str(port), "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.05)
        healthy = time.perf_counter() - started
        page = browser.new_page()
        page.goto(url)
        page.get_by_label("Text to classify").fill("WORST SHOW EVER")
        page.get_by_role("button", name="Predict").click()
        page.get_by_test_id("stMetric").filter(has_text="Predicted label").wait_for()
        predicted = time.perf_counter() - started
        page.close()
        return {"healthy": healthy, "first_prediction": predicted, "rss_mib": rss_mib(server.pid)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def bare_tensorflow_import() -> tuple[float, float]:
    """Seconds and RSS (MiB) of a fresh `python -c "import tensorflow"`."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", BARE_IMPORT], check=True, env=os.environ,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    bare, runs = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for _ in range(args.runs):  # taking turns, so a busy moment slows both alike
            bare.append(bare_tensorflow_import())
            runs.append(one_cold_start(browser))
        browser.close()
    tensorflow_import = statistics.median(seconds for seconds, _ in bare)
    tensorflow_rss = statistics.median(rss for _, rss in bare)
    print("| measure | seconds |")
    print("|---|---|")
    print(f"| reference: python -c 'import tensorflow', median | {tensorflow_import:.1f} |")
    for i, one in enumerate(runs, 1):
        print(
            f"| run {i}: streamlit run -> health / first prediction visible | "
            f"{one['healthy']:.1f} / {one['first_prediction']:.1f} |"
        )
    median = statistics.median(r["first_prediction"] for r in runs)
    bare_import = Reference('bare `python -c "import tensorflow"`, median', tensorflow_import)
    figures = [
        Figure("median cold start to the first prediction visible", median, "s", bare_import,
               at_most(1.5)),
        *(Figure(f"run {i}: to the first prediction visible", r["first_prediction"], "s",
                 Reference("the bare import just before it", b[0]))
          for i, (r, b) in enumerate(zip(runs, bare, strict=True), 1)),
        *(Figure(f"run {i}: to a healthy server", r["healthy"], "s")
          for i, r in enumerate(runs, 1)),
        Figure("app RSS after the first prediction (the largest of the runs)",
               max(r["rss_mib"] for r in runs), "MiB",
               Reference('bare `python -c "import tensorflow"`, median', tensorflow_rss),
               at_most(1.0)),
    ]  # fmt: skip
    run.write(figures)


if __name__ == "__main__":
    main()
