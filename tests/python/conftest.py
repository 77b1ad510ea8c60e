"""A real Hayate cluster (coordinator and two worker processes) for the
Flight SQL client tests. The binary comes from HAYATE_BIN or target/debug."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def hayate_bin():
    path = Path(os.environ.get("HAYATE_BIN", ROOT / "target" / "debug" / "hayate"))
    if not path.exists():
        pytest.fail(f"{path} not built: run `cargo build -p hayate` first")
    return str(path)


@pytest.fixture(scope="session")
def cluster(hayate_bin):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [hayate_bin, "coordinator", "--bind", "127.0.0.1", "--port", str(port), "--heartbeat-ms", "200"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [hayate_bin, "worker", "--coordinator", url, "--bind", "127.0.0.1", "--port", "0"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    deadline = time.time() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    time.sleep(1.0)  # workers register on their first heartbeat
    try:
        yield f"grpc://127.0.0.1:{port}"
    finally:
        for p in procs:
            p.kill()
            p.wait()
