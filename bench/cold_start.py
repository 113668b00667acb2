"""Cold start: from `streamlit run` to the first prediction visible in a real browser.

    python bench/cold_start.py [--runs 3]

Drives Debian's Chromium with Playwright. For reference it also times, in the same run,
a bare `python -c "import tensorflow"`, which the dashboard no longer pays at start-up.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, env=os.environ,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    tensorflow_import = time.perf_counter() - started
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        runs = [one_cold_start(browser) for _ in range(args.runs)]
        browser.close()
    print("| measure | seconds |")
    print("|---|---|")
    print(f"| reference: python -c 'import tensorflow' | {tensorflow_import:.1f} |")
    for i, run in enumerate(runs, 1):
        print(
            f"| run {i}: streamlit run -> health / first prediction visible | "
            f"{run['healthy']:.1f} / {run['first_prediction']:.1f} |"
        )
    best = sorted(r["first_prediction"] for r in runs)[len(runs) // 2]
    print(
        f"\nmedian cold start to first prediction: {best:.1f} s "
        f"({best / tensorflow_import:.2f}x a bare TensorFlow import)"
    )
    print(f"app RSS after the first prediction: {max(r['rss_mib'] for r in runs):.0f} MiB")


if __name__ == "__main__":
    main()
