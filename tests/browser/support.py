"""What the browser tests share: Debian's Chromium, and the demo town served in a subprocess.

``serve_demo`` runs ``towngrid demo`` on a free port with its own data directory: always the
embedded SQLite (DATABASE_URL is removed from its environment, so a suite run against PostgreSQL
serves the same town) and never production mode (which refuses the demo). The registry is built
at the suite's scale (Beicai's full scale takes minutes) and, unless asked, without the six
demo months of cases: the browser tests make their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
# The demo build at the test scale takes well under a minute alone; a loaded CI machine running
# other suites can take several.
START_TIMEOUT = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@contextmanager
def serve_demo(
    tmp_path_factory, name: str = "demo", *, cases: int = 0, scale: str = "0.02"
) -> Iterator[dict]:
    """Yields ``{"url", "data_dir", "output"}`` (``output()``: the server's last log lines)."""
    data_dir = tmp_path_factory.mktemp(name)
    port = free_port()
    drop = {"DATABASE_URL", "TOWNGRID_PRODUCTION", "TOWNGRID_SECRET_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(TOWNGRID_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    log_path = data_dir / "server.log"
    cmd = [
        sys.executable, "-m", "towngrid", "demo", "--data-dir", str(data_dir), "--port", str(port),
        "--no-progress", "--cases", str(cases), "--scale", scale,
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

        def output() -> str:
            log.flush()
            return log_path.read_text(errors="replace")[-5000:]

        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not answers(port):
                if proc.poll() is not None:
                    pytest.fail(f"towngrid demo exited with {proc.returncode}:\n{output()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"towngrid demo did not answer in {START_TIMEOUT} s:\n{output()}")
                time.sleep(0.5)
            yield {"url": f"http://127.0.0.1:{port}", "data_dir": data_dir, "output": output}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
