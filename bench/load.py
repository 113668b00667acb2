"""Load: concurrent dashboard sessions submitting predictions, one process against two.

    python bench/load.py [--clients 20] [--seconds 60] [--setups bare one two explained]
        [--json]

In one run, one after another, on the shipped default model:
- `bare`: bench/bare_page.py, a form, a metric and one Altair chart over the same predictor,
  in one `streamlit run` process: the reference for the dashboard's own cost;
- `one`: the dashboard, one `streamlit run` process;
- `two`: the dashboard, two processes behind nginx (deploy/replicas.py);
- `explained`: the dashboard, one process, with "Explain the words" switched on for every
  prediction. `one` and `two` leave the switch as a new visitor finds it: on for the
  n-gram models, off for the transformer ones (pipeline.recipes.explains_at_once).
It reports each one's completed predictions per second and the ratios, with targets:
- one/bare: at least 1.00x: the dashboard's own work costs no throughput against a bare
  page over the same predictor;
- two/one: at least 1.20x: a second process behind nginx must add a fifth at least, or it
  is not worth its memory (on 2 cores, one process that keeps 1.67 cores busy or fewer
  leaves that much);
- explained/bare: reported without a target (the explanation is about ten predictions'
  work, which is why it starts off for the transformer models).

Each client is one
websocket session speaking Streamlit's own protocol (BackMsg / ForwardMsg protobufs), as a
browser tab does: it loads the page, then in a loop types a text into the Predict tab's
form, clicks Predict and waits for the run to finish. Twenty Chromium pages on a small
machine would measure the browser, not the server. Every label shown is checked against
`load_predictor().predict([text])`, and the explanation too wherever it is switched on. Errors: an
exception or `st.error` in the page, a missing or wrong label, a run that does not finish
successfully within 30 s, or a broken websocket (the client then reconnects). Exits 1 on
any error or if a setup completed nothing.
"""

import argparse
import asyncio
import contextlib
import html
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import streamlit  # noqa: E402
import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from bench.record import Figure, Reference, Run, at_least  # noqa: E402
from deploy.replicas import free_port, replicas, wait_healthy  # noqa: E402
from pipeline import config, load_predictor  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.recipes import explains_at_once  # noqa: E402
from pipeline.runtimes.lite import LiteTransformer  # noqa: E402

TIMEOUT = 30.0
RESULT_LABEL = "Predicted label"
FORM = "predict_form"
SUCCESS = (
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
)  # the Predict tab's text area and Predict button


class Session:
    """One Streamlit session over a websocket, as one browser tab holds it."""

    def __init__(self, ws):
        self.ws = ws
        self.page_hash = ""
        self.widget_ids: dict[str, str] = {}
        self.html_shown = ""  # every st.html body of the last run: the explanation
        self.label_at = 0.0  # when the last run's result label arrived
        self.cache: dict[str, ForwardMsg] = {}  # big messages by hash, as a browser keeps them
        self.fragment_id = ""  # the Predict tab is an st.fragment: a click reruns just it

    async def run(
        self, widgets: list[WidgetState], fragment_id: str = ""
    ) -> tuple[str | None, list[str]]:
        """Ask for a script run (of one fragment, if given, as a browser does for a click
        inside it) and read up to its end: the result label and any errors."""
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.fragment_id = fragment_id
        msg.rerun_script.widget_states.widgets.extend(widgets)
        msg.rerun_script.cached_message_hashes.extend(self.cache)  # the server sends refs
        await self.ws.send(msg.SerializeToString())
        label, errors, self.html_shown = None, [], ""
        while True:
            reply = ForwardMsg.FromString(await self.ws.recv())
            if reply.ref_hash:
                reply = self.cache[reply.ref_hash]
            elif reply.metadata.cacheable:
                self.cache[reply.hash] = reply
            kind = reply.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = reply.new_session.page_script_hash
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                if element.WhichOneof("type") == "text_area" and element.text_area.form_id == FORM:
                    self.fragment_id = reply.delta.fragment_id
                if found := self.read_element(element, errors):
                    label, self.label_at = found, time.perf_counter()
            elif kind == "script_finished":
                if reply.script_finished not in SUCCESS:
                    errors.append(f"script_finished status {reply.script_finished}")
                return label, errors

    def read_element(self, element, errors: list[str]) -> str | None:
        """Note the form's widget ids and errors shown; return the result label, if this is it."""
        kind = element.WhichOneof("type")
        if kind == "exception":
            errors.append(f"exception {element.exception.type}: {element.exception.message}")
        elif kind == "alert" and element.alert.format == element.alert.ERROR:
            errors.append(f"st.error: {element.alert.body}")
        elif kind == "text_area" and element.text_area.form_id == FORM:
            self.widget_ids["text"] = element.text_area.id
        elif kind == "button" and element.button.form_id == FORM:
            self.widget_ids["submit"] = element.button.id
        elif kind == "checkbox" and element.checkbox.form_id == FORM:
            self.widget_ids["explain"] = element.checkbox.id  # "Explain the words"
        elif kind == "html":
            self.html_shown += element.html.body
        elif kind == "metric" and element.metric.label == RESULT_LABEL:
            return re.sub(r"\\(.)", r"\1", element.metric.body)  # undo escape_markdown
        return None

    async def predict(self, text: str, explain: bool | None = None) -> tuple[str | None, list]:
        """Submit the Predict form with `text`, as a click on Predict does; with `explain`,
        the form's "Explain the words" switch set to it first (None: left as the page has it)."""
        widgets = [
            WidgetState(id=self.widget_ids["text"], string_value=text),
            WidgetState(id=self.widget_ids["submit"], trigger_value=True),
        ]
        if explain is not None:
            widgets.append(WidgetState(id=self.widget_ids["explain"], bool_value=explain))
        return await self.run(widgets, self.fragment_id)


def check(text: str, label: str | None, html_shown: str, expected: dict, explained=True) -> list:
    """What is wrong with the page after predicting `text`: nothing, if the list is empty."""
    if label is None:
        return [f"no {RESULT_LABEL!r} shown"]
    problems = [] if label == expected[text] else [f"label {label!r}, not {expected[text]!r}"]
    if explained and not all(html.escape(word) in html_shown for word in text.split()):
        problems.append("the explanation shown is not of the text sent")
    return problems


async def client(n: int, url: str, texts: list, expected: dict, stats: dict, start: float) -> None:
    """User `n`: load the page, then predict one text after another until the deadline."""
    deadline, sent = start + stats["seconds"], 0

    def fail(problems: list[str]) -> None:
        if problems:
            when = f"t={time.perf_counter() - start:.1f}s client {n}"
            stats["errors"].append(f"{when}: {'; '.join(problems)}")

    while time.perf_counter() < deadline:
        try:
            async with websockets.connect(url, subprotocols=["streamlit"], max_size=None) as ws:
                session = Session(ws)
                _, errors = await asyncio.wait_for(session.run([]), TIMEOUT)
                fail([f"page load: {message}" for message in errors])
                if not {"text", "submit"} <= set(session.widget_ids):
                    return fail(["page load: the Predict form is missing"])
                while time.perf_counter() < deadline:
                    text, sent = texts[(n * 7 + sent) % len(texts)], sent + 1
                    started = time.perf_counter()
                    answer = session.predict(text, stats["explain"])
                    label, errors = await asyncio.wait_for(answer, TIMEOUT)
                    took = time.perf_counter() - started
                    errors += check(text, label, session.html_shown, expected, stats["explained"])
                    fail([*errors, f"text {text[:40]!r}"] if errors else [])
                    if not errors:
                        stats["completed"] += 1
                        stats["latencies"].append(took)
                        stats["shown"].append(session.label_at - started)
        except (TimeoutError, OSError, websockets.WebSocketException) as exc:
            fail([f"{type(exc).__name__}: {exc}; reconnecting"])
            await asyncio.sleep(1)


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(found.group(1)) if found else 0
    return total / 1024


async def load(base: str, pids: list[int], args, texts, expected, setup: str) -> dict:
    """Run every client at once for `args.seconds`, sampling the servers' RSS meanwhile."""
    stats = {"seconds": args.seconds, "completed": 0, "latencies": [], "shown": []}
    # What the page must show: the explanation where the switch is on, by the user
    # ("explained") or by the model's default (recipes.explains_at_once).
    explain = True if setup == "explained" else None
    explained = setup == "explained" or (setup != "bare" and args.explained_unasked)
    stats |= {"errors": [], "rss": [], "explain": explain, "explained": explained}

    def rss() -> float:
        return sum(tree_rss_mib(pid) for pid in pids)

    def cpu_seconds() -> float:  # user + system time of the server processes
        ticks = os.sysconf("SC_CLK_TCK")
        fields = [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() for pid in pids]
        return sum(int(f[11]) + int(f[12]) for f in fields) / ticks

    async def sample_rss() -> None:
        while True:
            stats["rss"].append(rss())
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_rss())
    url = base.replace("http://", "ws://") + "/_stcore/stream"
    cpu_before, start = cpu_seconds(), time.perf_counter()
    await asyncio.gather(
        *(client(n, url, texts, expected, stats, start) for n in range(args.clients))
    )
    stats["elapsed"] = time.perf_counter() - start
    stats["cores"] = (cpu_seconds() - cpu_before) / stats["elapsed"]
    sampler.cancel()
    stats["rss"].append(rss())
    return stats


@contextlib.contextmanager
def servers(setup: str, log):
    """Start a setup's server(s); yields (base URL, [process ids], [backend URLs])."""
    if setup == "two":
        with replicas(2, log=log) as (url, backends):
            ports = [port for port, _ in backends[:2]]
            yield url, [p.pid for _, p in backends[:2]], [f"http://127.0.0.1:{p}" for p in ports]
        return
    script = "bench/bare_page.py" if setup == "bare" else "streamlit_app.py"  # one, explained
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=config.PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(f"{url}/_stcore/health", server)
        yield url, [server.pid], [url]
    finally:
        server.terminate()
        server.wait(timeout=30)


async def warm_up(url: str, text: str) -> None:
    """One page load and prediction, so the model is loaded before the clock starts."""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None) as ws:
        session = Session(ws)
        await asyncio.wait_for(session.run([]), 120)
        await asyncio.wait_for(session.predict(text), 120)


def log_problems(log: str) -> list[str]:
    """The server log's entries that report an error or warning, each as its first and last line.

    Streamlit starts each entry with a timestamp; a traceback follows on the lines after.
    """
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d )", log.strip())
    problems = [
        e.strip().splitlines() for e in entries if re.search(r"error|exception|warn", e, re.I)
    ]
    return [f"server log: {lines[0]}" + (f" ... {lines[-1]}" if len(lines) > 1 else "")
            for lines in problems]  # fmt: skip


def figures_of(args, stats: dict, log_errors: list[str]) -> dict:
    """One setup's figures."""

    def ms(values: list[float], q: int) -> float:
        return float(np.percentile(np.array(values or [np.nan]) * 1000, q).round())

    rss = stats["rss"]
    return {
        "seconds": round(stats["elapsed"], 1),
        "completed": stats["completed"],
        "per_second": round(stats["completed"] / stats["elapsed"], 2),
        "server_cores_busy": round(stats["cores"], 2),
        "p50_ms": ms(stats["latencies"], 50),
        "p95_ms": ms(stats["latencies"], 95),
        "label_p50_ms": ms(stats["shown"], 50),
        "label_p95_ms": ms(stats["shown"], 95),
        "errors": len(stats["errors"]) + len(log_errors),
        "error_messages": (stats["errors"] + log_errors)[:20],
        "rss_mib": {"start": round(rss[0]), "peak": round(max(rss)), "end": round(rss[-1])},
    }


def report(args, results: dict) -> dict:
    """Every setup's figures and the ratios, as text (or one JSON line with --json)."""
    summary = {
        "command": "python " + shlex.join(sys.argv),
        "machine": f"{len(os.sched_getaffinity(0))} cores, load average "
        f"{args.load_before:.1f} before the run, Python {platform.python_version()}, "
        f"Streamlit {streamlit.__version__}",
        "model": args.model,
        "clients": args.clients,
        "setups": results,
    }
    rate = {name: figures["per_second"] for name, figures in results.items()}
    if "one" in rate and "two" in rate and rate["one"]:
        summary["two_over_one"] = round(rate["two"] / rate["one"], 2)
    if "one" in rate and "bare" in rate and rate["bare"]:
        summary["dashboard_over_bare"] = round(rate["one"] / rate["bare"], 2)
    if "explained" in rate and "bare" in rate and rate["bare"]:
        summary["explained_over_bare"] = round(rate["explained"] / rate["bare"], 2)
    if args.json:
        print(json.dumps(summary))
        return summary
    print(f"command: {summary['command']}\nmachine: {summary['machine']}")
    print(f"model: {summary['model']}")
    for name, f in results.items():
        r, shown = f["rss_mib"], "".join(f"\n    {m}" for m in f["error_messages"][:5])
        print(
            f"{SETUPS[name]}: {args.clients} clients x {args.seconds:g} s (ran {f['seconds']} s): "
            f"{f['completed']} predictions, {f['per_second']}/s, server busy "
            f"{f['server_cores_busy']:.2f} cores; time to result p50 "
            f"{f['p50_ms']:.0f} ms, p95 {f['p95_ms']:.0f} ms; errors {f['errors']}{shown}; "
            f"RSS {r['start']} MiB at start, {r['peak']} MiB peak"
        )
    ratios = {
        "two_over_one": "two processes / one",
        "dashboard_over_bare": "dashboard / bare page",
        "explained_over_bare": "dashboard explaining every prediction / bare page",
    }
    for key, text in ratios.items():
        if key in summary:
            print(f"{text}: {summary[key]:.2f}x")
    return summary


def serving_description(predictor) -> str:
    """The version each server process loads, and how it runs it (its LiteRT pool, if any)."""
    metadata, forward = predictor.metadata, predictor.forward
    runner = getattr(forward, "__self__", None)
    transformer = getattr(runner, "members", [runner])[0]
    if isinstance(transformer, LiteTransformer):
        way = (
            f"LiteRT, {transformer.interpreters} interpreters x {transformer.threads} "
            "thread(s) each"
        )
    else:
        way = type(runner).__name__ if runner is not None else "Keras"
    return f"{metadata.get('version')} ({metadata.get('architecture')}), served by {way}"


# (setup, reference setup, target on the ratio of their predictions per second)
RATIOS = (("one", "bare", at_least(1.0)), ("two", "one", at_least(1.2)),
          ("explained", "bare", None))  # fmt: skip


def load_figures(results: dict) -> list[Figure]:
    """Each setup's figures, its throughput against its reference setup's (RATIOS)."""
    references = {setup: (reference, target) for setup, reference, target in RATIOS}
    figures = []
    for setup, f in results.items():
        reference, target = references.get(setup, (None, None))
        against = None
        if reference in results:
            against = Reference(SETUPS[reference], results[reference]["per_second"])
        figures += [
            Figure("completed predictions per second", f["per_second"], "predictions/s",
                   against, target if against else None, SETUPS[setup]),
            Figure("time to result, p50", f["p50_ms"], "ms", group=SETUPS[setup]),
            Figure("time to result, p95", f["p95_ms"], "ms", group=SETUPS[setup]),
            Figure("server cores busy", f["server_cores_busy"], "cores", group=SETUPS[setup]),
            Figure("peak RSS of the server processes", f["rss_mib"]["peak"], "MiB",
                   group=SETUPS[setup]),
            Figure("errors", f["errors"], "errors", group=SETUPS[setup]),
        ]  # fmt: skip
    return figures


SETUPS = {
    "bare": "bare page (form, metric, one chart), one process",
    "one": "dashboard, one process",
    "two": "dashboard, two processes behind nginx",
    "explained": "dashboard, one process, every prediction explained",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--setups", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    parser.add_argument("--texts", type=int, default=40, help="distinct texts to cycle through")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    frame = load_labelled_data(config.SAMPLE_DATA_PATH).frame
    texts = list(dict.fromkeys(t for t in frame["text"] if t.strip()))[: args.texts]
    predictor = load_predictor()
    args.explained_unasked = explains_at_once(predictor.metadata.get("architecture"))
    args.model = serving_description(predictor)
    predictions = predictor.predict(texts)
    expected = {text: p["label"] for text, p in zip(texts, predictions, strict=True)}
    assert set(expected.values()) <= {"negative", "neutral", "positive"}, expected
    args.load_before = os.getloadavg()[0]
    results = {}
    for setup in args.setups:
        with tempfile.TemporaryFile("w+") as log:
            with servers(setup, log) as (url, pids, backends):
                for backend in backends:
                    asyncio.run(warm_up(backend, texts[0]))
                stats = asyncio.run(load(url, pids, args, texts, expected, setup))
            log.seek(0)
            results[setup] = figures_of(args, stats, log_problems(log.read()))
    report(args, results)
    notes = [f"Model: {args.model}.", f"{args.clients} clients for {args.seconds:g} s per setup."]
    run.write(load_figures(results), notes=notes)
    failed = any(f["errors"] or not f["completed"] for f in results.values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
