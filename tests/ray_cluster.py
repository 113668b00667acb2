"""A real local Ray cluster for the tests (and bench/batch_ray.py): `ray start --head` in a
temporary folder, stopped at the end by ending its own processes only.

    from tests.ray_cluster import ray_address   # a session fixture: "127.0.0.1:PORT"

`ray stop` is not used: it ends every Ray process on the machine, another engineer's or
another test run's too. The cluster's processes share the process group of its `ray start`;
its workers start their own sessions, as children of its raylet, so they are found by
parent.
"""

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Small, as other tests share the machine's 2 cores and its memory.
OBJECT_STORE_BYTES = 200 * 1024 * 1024
START_TIMEOUT = 120
STOP_GRACE = 3  # gcs_server and raylet may ignore SIGTERM; SIGKILL follows


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, process group)} of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return found


def cluster_processes(group: int) -> set[int]:
    """The processes of the cluster started in process group `group`, and their children."""
    table = _processes()
    members = {pid for pid, (_, pgid) in table.items() if pgid == group}
    while True:
        children = {pid for pid, (ppid, _) in table.items() if ppid in members} - members
        if not children:
            return members
        members |= children


def _signal(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def local_cluster(num_cpus: int = 2) -> Iterator[str]:
    """Start a Ray head on this machine, yield its address, and end its processes.

    Args:
        num_cpus: the CPUs the cluster offers its tasks and actors.

    Yields:
        "127.0.0.1:PORT".
    """
    ray_bin = Path(sys.executable).parent / "ray"
    # Short: Ray's Unix sockets live under it, and a socket path is limited to ~107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    port = free_port()
    # The ports Ray would otherwise take at fixed numbers get free ones, so two clusters
    # (the tests and a bench) can run at once.
    command = [
        str(ray_bin if ray_bin.exists() else "ray"), "start", "--head",
        "--num-cpus", str(num_cpus), "--port", str(port), "--temp-dir", temp_dir,
        "--node-ip-address", "127.0.0.1", "--object-store-memory", str(OBJECT_STORE_BYTES),
        "--include-dashboard=false", "--disable-usage-stats",
        "--ray-client-server-port", str(free_port()), "--dashboard-port", str(free_port()),
        "--dashboard-agent-listen-port", str(free_port()),
    ]  # fmt: skip
    starter = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its process group is the cluster's
    )
    try:
        output, _ = starter.communicate(timeout=START_TIMEOUT)
        if starter.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{output}")
        yield f"127.0.0.1:{port}"
    finally:
        stop_cluster(starter.pid)
        shutil.rmtree(temp_dir, ignore_errors=True)


def stop_cluster(group: int) -> None:
    """End the cluster's processes: SIGTERM, then SIGKILL after a grace period."""
    pids = cluster_processes(group)
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while pids and time.monotonic() < deadline:
        time.sleep(0.2)
        pids = {pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)}
    _signal(pids | cluster_processes(group), signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a real local Ray cluster (2 CPUs), shared by the session."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("needs Ray: pip install -r requirements-cluster.txt")
    with local_cluster(num_cpus=2) as address:
        yield address
