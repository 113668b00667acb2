"""The repository itself: git ignores what the app writes while it runs (and nothing that
belongs in a commit), and the README's quick start and pictures say what a newcomer sees."""

import re
import shutil
import subprocess

import pytest

from pipeline import config
from pipeline.analysis.corrections import COPY_MARK
from pipeline.jobs import TRAINING_INFO_FILE, TRAINING_LOCK_FILE
from pipeline.registry.local import LOCK_FILE
from pipeline.registry.store import TEMP_PREFIX
from pipeline.sweep.results import RECORDS_FOLDER

ROOT = config.PROJECT_ROOT
MODELS = config.DEFAULT_MODELS_DIR.relative_to(ROOT).as_posix()
FEEDBACK = config.DEFAULT_FEEDBACK_PATH.relative_to(ROOT).as_posix()
CORRECTED = config.DEFAULT_CORRECTED_DATA_DIR.relative_to(ROOT).as_posix()
CACHE = config.DEFAULT_CACHE_DIR.relative_to(ROOT).as_posix()
# What running the app, a training and a sweep writes into the project (found with
# `git status` after doing each): none of it may show as untracked.
WRITTEN = [
    FEEDBACK,
    f"{FEEDBACK}.lock",  # filelock's, beside the feedback file
    f"{MODELS}/{LOCK_FILE}",
    f"{MODELS}/{TRAINING_LOCK_FILE}",
    f"{MODELS}/{TRAINING_INFO_FILE}",
    f"{MODELS}/{TEMP_PREFIX}20261207-114121-e41e/model.keras",
    f"{MODELS}/{RECORDS_FOLDER}/sweep-20261207-114031-b9d0.json",
    f"{MODELS}/{RECORDS_FOLDER}/.sweep-20261207-114031-b9d0.json-1a2b3c4d",  # mid-write
    f"{CORRECTED}/sample{COPY_MARK}0123456789.csv",
    f"{CACHE}/label_issues/9fcef2ba32141501000c7b62.csv",
]
# What a commit may carry: the shipped versions, a newly trained one, the sample data.
KEPT = [
    f"{MODELS}/ACTIVE",
    f"{MODELS}/20261207-151252-68ed/metadata.json",
    f"{MODELS}/20261207-114121-e41e/model.keras",
    "data/sample.csv",
    "docs/screenshots/predict-dark.png",
]


def ignored(paths: list[str]) -> set[str]:
    """The paths git would ignore if they existed, by the repository's .gitignore."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the project")
    found = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode in (0, 1), found.stderr  # 1: none ignored
    return set(found.stdout.split())


def test_files_the_app_writes_while_it_runs_are_ignored():
    assert ignored(WRITTEN) == set(WRITTEN)


def test_nothing_that_belongs_in_a_commit_is_ignored():
    assert ignored(KEPT) == set()


def test_the_readme_shows_the_predict_tab_light_and_dark_and_where_to_go():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    for theme in ("light", "dark"):
        assert f"docs/screenshots/predict-{theme}.png" in pictures
    assert all((ROOT / picture).is_file() for picture in pictures)
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "http://localhost:8501" in quick_start
    assert "(opens http" not in quick_start  # headless: no browser opens by itself
