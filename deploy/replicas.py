"""N `streamlit run` processes behind nginx, with sticky sessions and websockets.

    python deploy/replicas.py --replicas 2 --port 8080

Starts the dashboard N times on free localhost ports (sharing one cookie secret, so any
of them accepts the browser's XSRF cookie), writes an nginx configuration from
deploy/nginx.conf.template into a temporary folder, and runs Debian's nginx in the
foreground with it, as an ordinary user. Ctrl-C stops everything. All replicas share one
registry: point $SENTIMENT_MODELS_DIR at object storage (s3://...) when they run on
different machines; on one machine the models/ folder is shared already.
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
MAX_UPLOAD_MB = 50  # .streamlit/config.toml's server.maxUploadSize


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    """Return once `url` answers 200 (Streamlit's /_stcore/health, or the API's /health
    once its model is loaded); raise if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with code {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return  # urlopen raises HTTPError (an OSError) for any answer but a success
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy within {seconds:.0f} s")


def nginx_config(prefix: Path, listen: int, ports: list[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in ports)
    text = TEMPLATE.read_text()
    for name, value in {"prefix": prefix, "servers": servers, "listen": f"127.0.0.1:{listen}",
                        "max_upload_mb": MAX_UPLOAD_MB}.items():  # fmt: skip
        text = text.replace("{" + name + "}", str(value))
    return text


@contextlib.contextmanager
def replicas(n: int, port: int = 0, script: str = "streamlit_app.py", env=None, log=None):
    """Run `n` dashboards behind nginx; yields (nginx URL, [(port, process)...])."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("nginx is not installed: apt-get install -y nginx")
    cookie_secret = secrets.token_hex(16)
    # Streamlit takes the cookie secret only from its config file or the environment.
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret, **(env or {})}
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="nginx-") as prefix:
        try:
            ports = [free_port() for _ in range(n)]
            for backend in ports:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "streamlit", "run", script,
                     "--server.port", str(backend), "--server.address", "127.0.0.1",
                     "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                    cwd=ROOT, env=env, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                ))  # fmt: skip
            for backend, process in zip(ports, processes, strict=True):
                wait_healthy(f"http://127.0.0.1:{backend}/_stcore/health", process)
            listen = port or free_port()
            conf = Path(prefix) / "nginx.conf"
            conf.write_text(nginx_config(Path(prefix), listen, ports))
            front = subprocess.Popen(
                [nginx, "-p", prefix, "-c", str(conf), "-g", "daemon off;"],
                stdout=log or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            processes.append(front)
            wait_healthy(f"http://127.0.0.1:{listen}/_stcore/health", front, 30)
            yield f"http://127.0.0.1:{listen}", list(zip(ports, processes, strict=False))
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="nginx listens here")
    args = parser.parse_args()
    with replicas(args.replicas, args.port) as (url, backends):
        print(f"{url} -> {', '.join(str(port) for port, _ in backends)}; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
