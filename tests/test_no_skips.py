"""CI's rule that no test may skip (tests/no_skips.py), checked on a throwaway test file."""

import os
import subprocess
import sys

import pytest

from pipeline import config

SKIPPING = """
import pytest

def test_needs_a_tool():
    pytest.skip("needs the frobnicate command")

def test_fine():
    assert True
"""


def run_pytest(tmp_path, no_skips: str | None, workers: str = "0") -> subprocess.CompletedProcess:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "SENTIMENT_NO_SKIPS"}
    env["PYTHONPATH"] = str(config.PROJECT_ROOT / "tests")
    if no_skips is not None:
        env["SENTIMENT_NO_SKIPS"] = no_skips
    command = [sys.executable, "-m", "pytest", "-p", "no_skips", "-p", "no:cacheprovider",
               "-q", "-n", workers, "--rootdir", str(tmp_path), str(tmp_path)]  # fmt: skip
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_skip_fails_the_run_and_names_its_reason_when_skips_are_not_allowed(tmp_path, workers):
    result = run_pytest(tmp_path, "1", workers)
    assert result.returncode == 1, result.stdout
    assert "a skip fails this run" in result.stdout
    assert "test_needs_a_tool: Skipped: needs the frobnicate command" in result.stdout


def test_a_skip_is_only_a_skip_otherwise(tmp_path):
    result = run_pytest(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
