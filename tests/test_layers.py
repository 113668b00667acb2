"""The layering holds (pyproject.toml's import-linter contracts), and the check catches a
planted upward import or cycle: .ci/run runs the same `lint-imports`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import config

LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120
    )


def test_the_project_keeps_its_layers_and_has_no_import_cycle():
    result = lint_imports(config.PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """The packages and the contracts, to plant an import in without touching the project."""
    for name in ("pipeline", "ui"):
        shutil.copytree(config.PROJECT_ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(config.PROJECT_ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def plant(root: Path, module: str, line: str) -> None:
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("module", "line", "reported"),
    [
        # The registry loading a model again: an upward import.
        ("pipeline/registry/__init__.py", "from pipeline import predict", "pipeline.predict"),
        # A runtime reaching for a recipe.
        ("pipeline/runtimes/lite.py", "import pipeline.recipes.ngram", "pipeline.recipes"),
        # The two job views importing each other again.
        ("ui/sweep_view.py", "import ui.retrain_tab", "ui.retrain_tab"),
        # A cycle inside one layer, which only the acyclic contract sees.
        ("pipeline/runtimes/batching.py", "import pipeline.runtimes.lite", "- .lite -> .batching"),
    ],
)
def test_a_planted_upward_import_or_cycle_breaks_a_contract(project_copy, module, line, reported):
    plant(project_copy, module, line)
    result = lint_imports(project_copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and reported in result.stdout
