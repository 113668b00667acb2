"""Memory of the dashboard and its training worker together, inside a Community Cloud-sized
memory cgroup, during a retrain started from the browser.

    python bench/worker_memory.py --data ../shared/data/Sentiment.csv            # the default
    python bench/worker_memory.py --data data/sample.csv --arch fasttext --epochs 1  # a check

`streamlit run` starts inside a cgroup v1 memory group limited to --limit-gb (Community
Cloud gives an app 2.7 GB), swap included, so the training worker it starts is inside it
too. Chromium, outside the group, opens the app, predicts once (so the app holds its
model, as it does for its users), uploads the data in the Retrain tab, starts a retrain of
`--arch` (default: the shipped default's recipe, with its settings; `--epochs` to shorten
it) and waits
for the version to be saved, or for the job to fail. Every half second the bench reads
the group's resident memory (memory.stat: rss + rss_huge, what the out-of-memory killer
counts; the page cache is reclaimed under the limit, not killed for) and each process's.

Figures: the peak resident memory of the app and the worker together, against the limit
(target: at most 1.00x); each one's own peak; the group's peak usage with the page cache.
The notes say whether the job succeeded and how many processes the out-of-memory killer
stopped (memory.oom_control). Needs root (to make the group) and Debian's Chromium.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from deploy.replicas import free_port, wait_healthy  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.recipes.ensemble import NAME as SHIPPED_RECIPE  # noqa: E402

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
CHROMIUM = "/usr/bin/chromium"
MIB = 2**20


class MemoryGroup:
    """A cgroup v1 memory group with a limit (swap included); removed on exit."""

    def __init__(self, limit_bytes: int):
        self.path = CGROUP_ROOT / f"sentiment-bench-{os.getpid()}"
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        swap_limit = self.path / "memory.memsw.limit_in_bytes"
        if swap_limit.exists():
            swap_limit.write_text(str(limit_bytes))

    def join(self) -> None:
        """Move the calling process into the group (a child's preexec_fn)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def stat(self) -> dict[str, int]:
        lines = (self.path / "memory.stat").read_text().splitlines()
        return {key: int(value) for key, value in (line.split() for line in lines)}

    def resident(self) -> int:
        stat = self.stat()
        return stat["rss"] + stat.get("rss_huge", 0)

    def pids(self) -> list[int]:
        return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]

    def peak_usage(self) -> int:
        return int((self.path / "memory.max_usage_in_bytes").read_text())

    def oom_kills(self) -> int:
        text = (self.path / "memory.oom_control").read_text()
        found = re.search(r"oom_kill (\d+)", text)
        return int(found.group(1)) if found else 0

    def remove(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def rss(pid: int) -> int:
    """A process's resident anonymous memory in bytes (what the group's rss counts: mapped
    files such as the libraries are page cache), 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Reads the group's and each process's resident memory every half second."""

    def __init__(self, group: MemoryGroup, app_pid: int):
        super().__init__(daemon=True)
        self.group, self.app_pid = group, app_pid
        self.peak_together = self.peak_app = self.peak_worker = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            try:
                together = self.group.resident()
                pids = self.group.pids()
            except OSError:
                continue
            self.peak_together = max(self.peak_together, together)
            self.peak_app = max(self.peak_app, rss(self.app_pid))
            workers = [rss(pid) for pid in pids if pid != self.app_pid]
            self.peak_worker = max([self.peak_worker, *workers])


def start_app(group: MemoryGroup, scratch: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run` inside the group, on a copy of the shipped models."""
    models = scratch / "models"
    shutil.copytree(config.DEFAULT_MODELS_DIR, models)
    port = free_port()
    env = {
        **os.environ,
        config.MODELS_DIR_ENV: str(models),
        config.FEEDBACK_FILE_ENV: str(scratch / "feedback.csv"),
        config.CACHE_DIR_ENV: str(scratch / "cache"),
    }
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    app = subprocess.Popen(command, cwd=ROOT, env=env, preexec_fn=group.join,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/_stcore/health", app, 120)
    return app, url


def retrain_from_the_browser(url: str, data: Path, arch: str, epochs: int | None) -> str:
    """Predict once, then retrain on an upload; what the Retrain tab said at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_label("Text to classify").fill("What a great night")
        page.get_by_role("button", name="Predict").click()
        page.get_by_test_id("stMetric").filter(has_text="Predicted label").wait_for()
        page.get_by_role("tab", name="Retrain").click()
        panel = page.get_by_role("tabpanel", name="Retrain")
        box = panel.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Architecture"))
        box.first.click()
        page.get_by_role("option", name=arch, exact=True).click()
        panel.get_by_text("Upload a CSV").click()
        panel.locator("input[type=file]").set_input_files(str(data))
        panel.get_by_text(re.compile(r"run on these [\d,]+ rows should take")).wait_for()
        if epochs:
            panel.get_by_role("spinbutton", name="Epochs").fill(str(epochs))
        panel.get_by_role("button", name="Start training").click()
        panel.get_by_role("button", name="Cancel").wait_for()  # the job has started
        end = panel.get_by_text(re.compile(r"Saved version \S+ in|The training process|failed"))
        end.first.wait_for(timeout=4 * 3600 * 1000)
        said = end.first.inner_text()
        browser.close()
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH), help="a labelled CSV")
    parser.add_argument("--arch", default=SHIPPED_RECIPE, help="the recipe (default: the "
                        "shipped default's)")  # fmt: skip
    parser.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    parser.add_argument("--limit-gb", type=float, default=2.7, help="the group's limit, GB")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    limit = int(args.limit_gb * 1e9)
    group = MemoryGroup(limit)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            app, url = start_app(group, Path(scratch))
            sampler = Sampler(group, app.pid)
            sampler.start()
            try:
                said = retrain_from_the_browser(url, Path(args.data), args.arch, args.epochs)
            finally:
                sampler.stopped.set()
                sampler.join()
                app.terminate()
                app.wait(timeout=60)
            peak_usage, oom_kills = group.peak_usage(), group.oom_kills()
    finally:
        group.remove()
    saved = said.startswith("Saved version")
    reference = Reference(f"the memory limit ({args.limit_gb:g} GB)", limit / MIB)
    figures = [
        Figure(
            "app + training worker, peak resident",
            sampler.peak_together / MIB,
            "MiB",
            reference,
            at_most(1.0),
        ),  # fmt: skip
        Figure("the app alone, peak resident", sampler.peak_app / MIB, "MiB", reference),
        Figure("the worker alone, peak resident", sampler.peak_worker / MIB, "MiB", reference),
        Figure("the group's peak usage, page cache included", peak_usage / MIB, "MiB", reference),
    ]
    notes = [
        f"The retrain {'succeeded' if saved else 'did not succeed'}: the Retrain tab said "
        f"{said.splitlines()[0]!r}.",
        f"Processes stopped by the out-of-memory killer: {oom_kills}.",
    ]
    for note in notes:
        print(note)
    run.write(figures, variant_of(args.data, args.arch), notes)
    if not saved or oom_kills:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
