"""Scale-out as shipped: two `streamlit run` processes behind Debian's nginx
(deploy/replicas.py), and the REST API with two workers, all sharing one registry."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from pipeline import config
from pipeline.predict import load_model, load_predictor
from pipeline.registry import Registry

sys.path.insert(0, str(config.PROJECT_ROOT))
from bench.cold_start import free_port  # noqa: E402
from bench.load import Session  # noqa: E402
from deploy.replicas import replicas, wait_healthy  # noqa: E402

TEXT = "WORST SHOW EVER"


@pytest.fixture(scope="module")
def nginx():
    if shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"):
        return
    reason = "needs Debian's nginx (apt-get install -y nginx)"
    if os.environ.get("REQUIRE_BROWSER") == "1":  # CI installs it with chromium
        pytest.fail(f"REQUIRE_BROWSER=1 but this {reason}")
    pytest.skip(reason)


@pytest.fixture
def shared_models(tiny_models_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    return models


def get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers, response.read()


async def predict_over_websocket(url: str) -> str | None:
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None) as ws:
        session = Session(ws)
        _, errors = await asyncio.wait_for(session.run([]), 60)
        assert errors == []
        label, errors = await asyncio.wait_for(session.predict(TEXT), 60)
        assert errors == []
        return label


def test_two_dashboards_behind_nginx_with_sticky_sessions(nginx, shared_models):
    env = {config.MODELS_DIR_ENV: str(shared_models)}
    with replicas(2, env=env) as (url, backends):
        headers, page = get(url)
        assert b"<title>Streamlit</title>" in page or b"streamlit" in page.lower()
        cookie = headers["Set-Cookie"].split(";")[0]
        assert cookie.startswith("st_route=")
        # A browser keeps its process: every request with its cookie reaches the same one.
        first = headers["X-Upstream"]
        assert {get(f"{url}/_stcore/health", cookie)[0]["X-Upstream"] for _ in range(10)} == {first}
        # New browsers are spread over both processes.
        seen = {get(f"{url}/_stcore/health")[0]["X-Upstream"] for _ in range(30)}
        assert seen == {f"127.0.0.1:{port}" for port, _ in backends[:2]}
        # The websocket upgrade passes: a session loads the page and predicts through nginx.
        expected = load_predictor(shared_models).predict([TEXT])[0]["label"]
        # On a thread of its own: another test (Playwright's) may have left an event loop here.
        with ThreadPoolExecutor(1) as thread:
            assert thread.submit(asyncio.run, predict_over_websocket(url)).result() == expected


def test_api_workers_follow_a_promotion(shared_models):
    registry = Registry(shared_models)
    first = registry.active_version()
    second = registry.save(load_model(registry, first), registry.metadata(first))
    port = free_port()
    env = {**os.environ, config.MODELS_DIR_ENV: str(shared_models),
           "SENTIMENT_REFRESH_SECONDS": "0.5", "PYTHONPATH": str(config.PROJECT_ROOT)}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api:app", "--workers", "2", "--port", str(port)],
        cwd=config.PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        health = f"http://127.0.0.1:{port}/health"
        deadline = time.monotonic() + 90
        while True:  # both workers up: /health answers (wait_healthy wants "ok" as body)
            try:
                if json.loads(get(health)[1])["version"] == first:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.2)
        Registry(shared_models).promote(second)
        deadline = time.monotonic() + 15
        while True:  # every answer, from either worker, names the new version
            answers = {json.loads(get(health)[1])["version"] for _ in range(10)}
            if answers == {second}:
                break
            assert time.monotonic() < deadline, answers
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_wait_healthy_reports_a_process_that_exits():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_healthy("http://127.0.0.1:9/_stcore/health", process, 10)
