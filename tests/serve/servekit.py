"""Helpers of the serving tests; ``conftest.py`` builds its fixtures on them.

A uniquely named module, so that test files can import it whatever other ``conftest`` modules
pytest has loaded: ``launch_server`` (a ready ``weakflow serve`` subprocess), ``make_token``,
``copy_project``, ``set_serve_config``, ``register_version`` (a second, different model) and
``wait_for``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from weakflow.pipeline import Project

MODEL = "youtube-spam"
READY_TIMEOUT = 60.0
#: Run the CLI exactly as the console script does, with this interpreter.
CLI = [sys.executable, "-c", "from weakflow.cli import main; main()"]


def copy_project(src: Path, dst: Path) -> Path:
    """A private copy of a project (its config, data, store and artifacts)."""
    return Path(shutil.copytree(src, dst))


def set_serve_config(project: Path, text: str) -> None:
    """Append TOML (e.g. ``[serve]\\nrate_limit = 5``) to the project's weakflow.toml."""
    path = project / "weakflow.toml"
    path.write_text(path.read_text() + "\n" + text.strip() + "\n")


def make_token(project: Path, scopes: Sequence[str], name: str | None = None) -> str:
    """Create an API token in the project's store; returns its secret."""
    from weakflow.registry import store_url
    from weakflow.store import Database, create_token

    proj = Project.load(project)
    db = Database(store_url(proj.state_dir, proj.config.store.url))
    try:
        _info, secret = create_token(
            db, name or f"test-{uuid.uuid4().hex[:8]}", list(scopes), actor="tests"
        )
    finally:
        db.close()
    return secret


def register_version(project: Path, *, C: float, promote: bool = False) -> int:
    """Register a different model (TF-IDF + logistic regression with ``C``) as a new version.

    Quick to train (on the gold dev and test rows), with v1's lineage (its LFs, its config),
    so the server accepts it; returns its version number.
    """
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from weakflow.registry import PackagedModel, open_registry

    proj = Project.load(project)
    frame = pd.concat([pd.read_csv(project / "data" / f) for f in ("dev.csv", "test.csv")])
    names = proj.config.data.label_names
    y = frame["label"].map({n: i for i, n in enumerate(names)}).to_numpy()
    estimator = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(C=C))])
    estimator.fit(frame["text"].astype(str).tolist(), y)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        v1 = registry.get(MODEL, 1)
        sha = registry.artifacts.put_model(PackagedModel(estimator, label_names=names))
        info = registry.register(
            MODEL, artifact_sha256=sha, actor="tests", lineage=v1.lineage, metrics=v1.metrics
        )
        if promote:
            registry.promote(MODEL, info.version, "production", actor="tests")
        return info.version
    finally:
        registry.db.close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``weakflow serve``: its URL, process and project."""

    url: str
    proc: subprocess.Popen[bytes]
    project: Path
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful: the prediction log is flushed), then SIGKILL the whole group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            r = httpx.get(server.url + "/v2/health/ready", timeout=2.0)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    code = server.proc.poll()
    server.stop()
    raise RuntimeError(
        f"weakflow serve did not become ready in {timeout:.0f}s (exit code {code}, last: "
        f"{last}). Its output:\n{server.log()}"
    )


def launch_server(
    project: Path,
    log_dir: Path,
    *,
    dev: bool = False,
    workers: int = 1,
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> Server:
    """Start ``weakflow serve`` for ``project`` on a free port; return once it is ready."""
    port = free_port()
    args = [*CLI, "serve", "--project", str(project), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), *extra_args]  # fmt: skip
    if dev:
        args.append("--dev")
    log_path = log_dir / f"server-{port}.log"
    log = log_path.open("wb")
    full_env: dict[str, Any] = {**os.environ, "WEAKFLOW_ACTOR": "tests", **(env or {})}
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
    )
    server = Server(f"http://127.0.0.1:{port}", proc, Path(project), log_path, log)
    _wait_ready(server, READY_TIMEOUT)
    return server
