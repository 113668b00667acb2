"""The Retrain tab with SENTIMENT_RAY_ADDRESS set, in Chromium: a fasttext job trains on a real
local Ray cluster (tests/ray_cluster.py), says where it runs while it does, and its version
lands in the registry on object storage (moto's S3 server), served from there."""

# ruff: noqa: F811  (the imported fixtures are parameters of the tests)

import re
import time

import pytest
from test_object_store import BUCKET, s3_endpoint, s3_env  # noqa: F401  fixtures

from pipeline import config
from pipeline.registry import Registry
from tests.conftest import open_page, running_app
from tests.ray_cluster import ray_address  # noqa: F401  fixture

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshots" / "retrain-ray.png"
pytest.importorskip("ray", reason="needs Ray: pip install -r requirements-cluster.txt")


def test_the_retrain_tab_trains_on_the_cluster_into_object_storage(
    browser, ray_address, s3_env, tiny_models_dir, tmp_path
):
    from playwright.sync_api import expect

    models = f"{s3_env['url']}/models"
    registry = Registry(models)
    tiny = Registry(tiny_models_dir)
    registry.copy_in(tiny, tiny.versions()[0])
    registry.promote(tiny.versions()[0])
    env = {
        config.MODELS_DIR_ENV: models,
        config.RAY_ADDRESS_ENV: ray_address,
        config.FEEDBACK_FILE_ENV: str(tmp_path / "feedback.csv"),
    }
    with running_app(env) as url:
        context, page = open_page(browser, url)
        page.get_by_role("tab", name="Retrain").click()
        panel = page.get_by_role("tabpanel", name="Retrain")
        panel.get_by_text(
            f"Training runs on the Ray cluster at {ray_address} ({config.RAY_ADDRESS_ENV}) "
            f"and saves into {models}."
        ).wait_for()
        panel.get_by_text("data/sample.csv").click()
        panel.get_by_role("spinbutton", name="Epochs").fill("2")
        clicked = time.monotonic()
        panel.get_by_role("button", name="Start training").click()
        # While it runs, the job says where.
        panel.get_by_text(f"on the Ray cluster at {ray_address} ·").wait_for()
        saved = panel.get_by_text(re.compile(r"Saved version \S+ in"))
        saved.wait_for(timeout=240_000)
        version = re.search(r"Saved version (\S+) in", saved.inner_text()).group(1)
        assert time.monotonic() - clicked < 240
        assert version in registry.versions() and version != tiny.versions()[0]
        metadata = registry.metadata(version)
        assert metadata["architecture"] == "fasttext" and metadata["epochs_run"] <= 2
        panel.get_by_text(
            f"Trained on the Ray cluster at {ray_address} (2 CPUs, no GPU)."
        ).wait_for()
        expect(panel.get_by_text(f"new: {version}", exact=True)).to_be_attached()
        page.wait_for_timeout(500)  # let the curves finish their entrance
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        context.close()
