"""Shared fixtures: the bundled sample data, the optional Kaggle file, a tiny trained model."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import config

pytest_plugins = ["no_skips"]  # SENTIMENT_NO_SKIPS=1 (CI): a skipped test fails the run

FULL_DATA_CANDIDATES = (
    config.KAGGLE_DATA_PATH,
    config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv",
)
TINY_PARAMS = {"epochs": 4, "vocab_size": 2000, "embedding_dim": 16, "batch_size": 32}
TINY_MINILM = {"epochs": 2, "learning_rate": 0.001, "batch_size": 32}


def shipped_version(architecture: str) -> str:
    """The newest version of an architecture in the shipped models/ folder."""
    from pipeline.registry import Registry

    registry = Registry(config.DEFAULT_MODELS_DIR)
    return next(
        v for v in registry.versions() if registry.metadata(v)["architecture"] == architecture
    )


def find_full_data() -> Path | None:
    """The Kaggle Sentiment.csv in data/ or ../shared/data/, if either is there."""
    return next((p for p in FULL_DATA_CANDIDATES if p.is_file()), None)


@pytest.fixture(autouse=True)
def feedback_file(tmp_path, monkeypatch) -> Path:
    """Every test writes feedback to its own file, never to data/feedback.csv."""
    path = tmp_path / "feedback.csv"
    monkeypatch.setenv(config.FEEDBACK_FILE_ENV, str(path))
    return path


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    """Every test caches derived files (embeddings, label checks, downloads of a remote
    registry) in its own folder, so no test sees another's cache, whatever their order."""
    path = tmp_path / "cache"
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(path))
    return path


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch) -> None:
    """No test sends its training to a Ray cluster unless it says so (a developer's
    SENTIMENT_RAY_ADDRESS stays out of the others)."""
    monkeypatch.delenv(config.RAY_ADDRESS_ENV, raising=False)


@pytest.fixture
def sample_csv() -> Path:
    return config.SAMPLE_DATA_PATH


@pytest.fixture(scope="session")
def full_data() -> Path:
    path = find_full_data()
    if path is None:
        pytest.skip(
            "needs the Kaggle Sentiment.csv in data/ (see data/README.md) or ../shared/data/"
        )
    return path


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    """A registry holding one small model trained on data/sample.csv (a few seconds)."""
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    root = tmp_path_factory.mktemp("models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    train_and_save(data, resolve_params(TINY_PARAMS), Registry(root))
    return root


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A tiny random BERT preset as the encoder for the whole session (subprocesses inherit
    it through the environment)."""
    from helpers import make_tiny_encoder

    folder = tmp_path_factory.mktemp("tiny-encoder")
    make_tiny_encoder(folder)
    saved = os.environ.get(config.ENCODER_DIR_ENV)
    os.environ[config.ENCODER_DIR_ENV] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop(config.ENCODER_DIR_ENV, None)
    else:
        os.environ[config.ENCODER_DIR_ENV] = saved


@pytest.fixture(scope="session")
def tiny_minilm_dir(tiny_encoder, tmp_path_factory) -> Path:
    """A registry holding one `minilm` version fine-tuned from the tiny encoder."""
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    root = tmp_path_factory.mktemp("minilm-models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = resolve_params(
        {"architecture": "minilm", "quantize": "none", "lite_copy": "yes", **TINY_MINILM}
    )
    train_and_save(data, params, Registry(root))
    return root


@pytest.fixture
def fresh_caches():
    """Streamlit's caches emptied before and after a test that runs the app."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def clean_env(monkeypatch):
    """No inherited SENTIMENT_MODELS_DIR, so tests choose their models folder."""
    monkeypatch.delenv(config.MODELS_DIR_ENV, raising=False)
    return os.environ


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _browser_unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(f"{reason}; set REQUIRE_BROWSER=1 or SENTIMENT_NO_SKIPS=1 to make this a failure")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser build)."""
    if not Path(CHROMIUM).is_file():
        _browser_unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_shipped_models(target: Path) -> Path:
    """Copy the shipped models folder, so a test may promote and delete freely."""
    import shutil

    shutil.copytree(
        config.DEFAULT_MODELS_DIR, target, ignore=shutil.ignore_patterns(".tmp-*", "*.lock")
    )
    return target


@pytest.fixture(scope="session")
def app_models_dir(tmp_path_factory) -> Path:
    """A copy of the shipped models folder for AppTest runs that only read it."""
    return copy_shipped_models(tmp_path_factory.mktemp("app") / "models")


@pytest.fixture(scope="session")
def browser_models_dir(tmp_path_factory, tiny_models_dir) -> Path:
    """The shipped models (minilm+fasttext active) plus the tiny sample version, which, unlike the
    shipped ones, kept its test predictions: the browser's models folder."""
    import shutil

    from pipeline.registry import Registry

    models_dir = copy_shipped_models(tmp_path_factory.mktemp("browser") / "models")
    tiny = Registry(tiny_models_dir).versions()[0]
    shutil.copytree(tiny_models_dir / tiny, models_dir / tiny)
    return models_dir


@contextlib.contextmanager
def running_app(env: dict) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free localhost port, with `env` added to this
    process's environment; yields its URL, and stops it at the end."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=config.PROJECT_ROOT, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit run did not answer on /_stcore/health within 90 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="session")
def streamlit_url(browser_models_dir):
    """The app on a free localhost port, over `browser_models_dir`."""
    env = {
        config.MODELS_DIR_ENV: str(browser_models_dir),
        config.FEEDBACK_FILE_ENV: str(browser_models_dir.parent / "feedback.csv"),
    }
    with running_app(env) as url:
        yield url


def open_page(browser, url: str):
    """A new browser context and page on the app at `url`, once its heading shows."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(url)
    tab.get_by_role("heading", name="Tweet sentiment").wait_for()
    return context, tab


@pytest.fixture
def page(browser, streamlit_url, browser_models_dir):
    """A fresh browser page on the running app, serving the shipped default: a version that
    an earlier test promoted is demoted first, so no browser test depends on another's."""
    from pipeline.registry import Registry

    shipped = Registry(config.DEFAULT_MODELS_DIR).active_version()
    registry = Registry(browser_models_dir)
    if registry.active_version() != shipped:
        registry.promote(shipped)
    context, tab = open_page(browser, streamlit_url)
    yield tab
    context.close()
