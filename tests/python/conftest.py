"""Real Hayate clusters (a coordinator and two worker processes) for the
Flight SQL client tests: an open one, and a secured one (users, TLS and a
cluster secret) as a production deployment runs. The binary comes from
HAYATE_BIN or target/debug."""

import contextlib
import os
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_server(args, env=None, labels=("listening",), timeout=30):
    """Starts a `hayate coordinator` or `hayate worker` and waits until it has
    printed "<label> at <url>" for every label, with ports given as 0 picked
    by the system (a port chosen ahead can be taken before the server binds
    it). Returns the process and the URLs, in the order of `labels`."""
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    lines = queue.Queue()

    def read():  # to the end, so the server never blocks on a full pipe
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    urls = {}
    deadline = time.time() + timeout
    while len(urls) < len(labels):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.time()))
        except queue.Empty:
            line = None
        if line is None:
            proc.kill()
            raise RuntimeError(f"{args[:2]} did not announce {labels} (exit {proc.wait()})")
        for label in labels:
            marker = f"{label} at "
            if marker in line:
                urls[label] = line.split(marker, 1)[1].strip()
    return proc, [urls[label] for label in labels]


@pytest.fixture(scope="session")
def hayate_bin():
    path = Path(os.environ.get("HAYATE_BIN", ROOT / "target" / "debug" / "hayate"))
    if not path.exists():
        pytest.fail(f"{path} not built: run `cargo build -p hayate` first")
    return str(path)


@contextlib.contextmanager
def _run_cluster(hayate_bin, env=None, scheme="http"):
    # Status endpoints on free ports: several clusters may run at once.
    env = {**os.environ, "HAYATE_STATUS_PORT": "0", **(env or {})}
    coordinator, (address,) = start_server(
        [hayate_bin, "coordinator", "--bind", "127.0.0.1", "--port", "0", "--heartbeat-ms", "200"],
        env,
    )
    procs = [coordinator]
    port = int(address.rsplit(":", 1)[1])
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        for _ in range(2):
            worker, _ = start_server(
                [hayate_bin, "worker", "--coordinator", url, "--bind", "127.0.0.1", "--port", "0"],
                env,
            )
            procs.append(worker)
        time.sleep(1.0)  # workers register on their first heartbeat
        yield port
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.fixture(scope="session")
def cluster(hayate_bin):
    with _run_cluster(hayate_bin) as port:
        yield f"grpc://127.0.0.1:{port}"


@dataclass
class SecureCluster:
    uri: str
    ca_pem: bytes
    user: str
    password: str


@pytest.fixture(scope="session")
def secure_cluster(hayate_bin, tmp_path_factory):
    """Users from HAYATE_USERS (a hash made by `hayate hash-password`), TLS
    from certificate files, and a cluster secret from the environment."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d = tmp_path_factory.mktemp("tls")
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    password = "correct horse battery staple"
    hashed = subprocess.run(
        [hayate_bin, "hash-password"], input=password + "\n", capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "HAYATE_USERS": f"analyst:{hashed}",
        "HAYATE_CLUSTER_SECRET": "python-test-secret",
        "HAYATE_TLS_CERT": str(d / "cert.pem"),
        "HAYATE_TLS_KEY": str(d / "key.pem"),
        "HAYATE_TLS_CA": str(d / "ca.pem"),
    }
    with _run_cluster(hayate_bin, env, scheme="https") as port:
        yield SecureCluster(f"grpc+tls://127.0.0.1:{port}", ca.cert_pem.bytes(), "analyst", password)
