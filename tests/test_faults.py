"""Faults: training killed at random points, a full disk and a read-only models folder.

After each fault the registry must load, the active version must be unchanged, and every
listed version must load.
"""

import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline import config
from pipeline.errors import RegistryError
from pipeline.predict import load_model, load_numpy_model
from pipeline.registry import Registry

KILLS = 4
TRAIN_ARGS = ["--epochs", "2", "--vocab-size", "2000", "--embedding-dim", "16"]


class TrainingRun:
    """train.py on the sample data in a child process; its output goes to a log file."""

    def __init__(self, models_dir: Path, seed: int, log: Path):
        command = [sys.executable, "train.py", "--data", str(config.SAMPLE_DATA_PATH)]
        command += ["--models-dir", str(models_dir), "--seed", str(seed), *TRAIN_ARGS]
        self.log = log
        with open(log, "w") as handle:
            self.process = subprocess.Popen(
                command,
                cwd=config.PROJECT_ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def wait_for_line(self, start: str, timeout: float = 300) -> float:
        """Wait until the child prints a line starting with `start`; return when it did."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            lines = self.log.read_text().splitlines()
            if any(line.startswith(start) for line in lines):
                return time.perf_counter()
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        self.process.kill()
        tail = "\n".join(self.log.read_text().splitlines()[-20:])
        raise AssertionError(f"training ended ({self.process.wait()}) before {start!r}:\n{tail}")


def check_registry(registry: Registry, active: str, loaded: set[str]) -> None:
    """The registry lists, the active version is unchanged, and every version loads."""
    versions = registry.versions()
    assert registry.active_version() == active
    assert active in versions
    for version in versions:
        assert registry.problem(version) is None, version
        assert load_numpy_model(registry, version) is not None, version
        if version not in loaded:  # files never change once saved: a full Keras load each once
            load_model(registry, version)
            loaded.add(version)
    leftovers = [p.name for p in Path(registry.root).iterdir() if p.is_dir() and p.name[0] != "."]
    assert sorted(leftovers) == sorted(versions), "a half-written version is visible"


def kill_repeatedly(models_dir: Path, logs: Path, kills: int, seed: int) -> dict:
    """Start trainings and SIGKILL them at random points until `kills` kills landed.

    Kills alternate between two phases: anywhere between the split and the save, and
    during the save. The windows come from one complete run first, and a window halves
    each time a kill in it comes too late (runs get faster once other tests leave the
    cores). Returns the landed kills per phase.
    """
    registry = Registry(models_dir)
    active, loaded = registry.active_version(), set()
    calibration = TrainingRun(models_dir, 0, logs / "calibration.log")
    split = calibration.wait_for_line("split:")
    saving = calibration.wait_for_line("saving...")
    saved = calibration.wait_for_line("saved version")
    assert calibration.process.wait(timeout=300) == 0
    windows = {"training": saving - split, "saving": saved - saving}
    check_registry(registry, active, loaded)

    rng = random.Random(seed)
    landed, attempts = {"training": 0, "saving": 0}, 0
    while sum(landed.values()) < kills:
        attempts += 1
        assert attempts <= 2 * kills, f"only {landed} of {attempts} kills landed mid-run"
        phase = min(landed, key=landed.get)  # the phase with fewer kills so far
        run = TrainingRun(models_dir, attempts, logs / f"run-{attempts}.log")
        reached = run.wait_for_line("split:" if phase == "training" else "saving...")
        time.sleep(max(0.0, reached + rng.uniform(0, windows[phase]) - time.perf_counter()))
        run.process.kill()
        code = run.process.wait(timeout=60)
        # A run the kill missed must have finished cleanly, not failed.
        assert code in (-9, 0), f"training failed ({code}):\n{run.log.read_text()[-2000:]}"
        landed[phase] += code == -9
        if code == 0:
            windows[phase] /= 2
        check_registry(registry, active, loaded)
    return landed


def test_training_killed_at_random_points_never_harms_the_registry(tiny_models_dir, tmp_path):
    # Two lanes, each with its own registry copy, so the kills use both cores.
    lanes = []
    for lane in range(2):
        (tmp_path / f"logs{lane}").mkdir()
        shutil.copytree(tiny_models_dir, tmp_path / f"models{lane}")
        lanes.append((tmp_path / f"models{lane}", tmp_path / f"logs{lane}", KILLS // 2, lane))
    with ThreadPoolExecutor(len(lanes)) as pool:
        results = list(pool.map(lambda args: kill_repeatedly(*args), lanes))
    landed = {phase: sum(r[phase] for r in results) for phase in ("training", "saving")}
    print(f"kills that landed mid-run: {landed}")  # shown with pytest -rP
    assert sum(landed.values()) >= KILLS
    assert landed["training"] >= 2 and landed["saving"] >= 2, landed


def mount_tmpfs(path: Path, size_bytes: int) -> None:
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "sentiment-test", str(path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip()})")


@pytest.fixture
def small_disk(tmp_path, tiny_models_dir):
    """A tmpfs holding a copy of the tiny registry, with room for little more."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    used = sum(p.stat().st_size for p in tiny_models_dir.rglob("*") if p.is_file())
    disk = tmp_path / "disk"
    mount_tmpfs(disk, used + 64 * 1024)
    try:
        shutil.copytree(tiny_models_dir, disk / "models")
        yield disk / "models"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def save_new_version(registry: Registry) -> str:
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.train import train_and_save

    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = resolve_params({"epochs": 1, "vocab_size": 2000, "embedding_dim": 16})
    return train_and_save(data, params, registry, promote=True)["version"]


def test_a_full_disk_during_a_save_gives_a_clear_error_and_loses_nothing(small_disk):
    registry = Registry(small_disk)
    before, active = registry.versions(), registry.active_version()
    with pytest.raises(RegistryError, match="No space left on device"):
        save_new_version(registry)
    assert registry.versions() == before and registry.active_version() == active
    load_model(registry, active)
    assert not [p.name for p in small_disk.iterdir() if p.name.startswith(".tmp-")]


def test_a_read_only_models_folder_gives_a_clear_error_and_loses_nothing(small_disk):
    registry = Registry(small_disk)
    before, active = registry.versions(), registry.active_version()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk.parent)], check=True)
    for action in (
        lambda: save_new_version(registry),
        lambda: registry.promote(active),
        lambda: registry.delete(active),
    ):
        with pytest.raises(RegistryError, match="Read-only file system"):
            action()
    assert registry.versions() == before and registry.active_version() == active
    load_model(registry, active)


def test_train_py_on_a_read_only_folder_exits_with_one_line(small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk.parent)], check=True)
    result = subprocess.run(
        [sys.executable, "train.py", "--data", str(config.SAMPLE_DATA_PATH)]
        + ["--models-dir", str(small_disk), *TRAIN_ARGS],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error: Could not start training" in result.stderr
    assert "Read-only file system" in result.stderr
