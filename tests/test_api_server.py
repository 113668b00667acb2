"""The README's REST API examples, run as written against `uvicorn api:app` on localhost."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from pipeline import config
from pipeline.predict import load_predictor


@pytest.fixture(scope="module")
def api_models_dir(tiny_models_dir, tmp_path_factory):
    """A copy of the tiny registry for the server to read."""
    target = tmp_path_factory.mktemp("api-server") / "models"
    shutil.copytree(tiny_models_dir, target, ignore=shutil.ignore_patterns(".tmp-*", "*.lock"))
    return target


@pytest.fixture(scope="module")
def predictor(api_models_dir):
    return load_predictor(api_models_dir)


def readme_examples() -> tuple[list[str], str]:
    """The `curl` lines and the Python block of the README's REST API section."""
    readme = (config.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## REST API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)
    curls = [
        line
        for language, code in blocks
        if language == "bash"
        for line in code.splitlines()
        if line.startswith("curl ")
    ]
    (python,) = [code for language, code in blocks if language == "python"]
    return curls, python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def api_url(api_models_dir, tmp_path_factory):
    """`uvicorn api:app` on a free localhost port, serving the tiny registry."""
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    env = {**os.environ, config.MODELS_DIR_ENV: str(api_models_dir)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command, cwd=config.PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"uvicorn did not become healthy:\n{log.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_readme_curl_examples_work_against_a_real_server(api_url, predictor):
    curls, _ = readme_examples()
    assert len(curls) >= 3
    for command in curls:
        assert "http://localhost:8000" in command
        command = command.replace("http://localhost:8000", api_url)
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (command, result.stderr)
        answer = json.loads(result.stdout)
        assert predictor.version in result.stdout, (command, answer)
        for row in [answer, *answer.get("predictions", [])]:
            assert "label" not in row or row["label"] in predictor.labels


def test_readme_requests_example_works_against_a_real_server(api_url, predictor, tmp_path):
    _, code = readme_examples()
    assert "http://localhost:8000" in code
    code = code.replace("http://localhost:8000", api_url)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.split()[0] in predictor.labels for line in lines)
    assert lines[0] == predictor.predict(["What a great night for Rubio"])[0]["label"]


def test_a_real_server_refuses_a_huge_body_on_its_headers(api_url):
    host, port = api_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10**9))
    connection.endheaders()  # the gigabyte is never sent; the answer comes anyway
    answer = connection.getresponse()
    assert answer.status == 413
    assert "2,000,000 bytes" in json.loads(answer.read())["detail"]
    connection.close()
