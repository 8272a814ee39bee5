"""Serving one-row requests: ``weakflow serve`` next to ``mlflow models serve``, same model.

The model is the YouTube example's production version: ``weakflow init`` + ``weakflow run`` in a
temporary folder, then ``open_registry(...).load_model(name, version)``, a PackagedModel that
wraps a scikit-learn Pipeline (hashed word and character n-grams, TF-IDF, logistic regression)
and a Platt calibrator. The two servers get the same fitted Pipeline:

- weakflow: ``weakflow serve --project P --workers N``, the product path: the PackagedModel
  (Pipeline + calibrator), LF votes, the prediction log (SQLite, batched in the background),
  bearer-token auth and the per-token rate limiter (raised to 10^6 req/s in the benchmark
  project's ``[serve]`` so that it runs but never answers 429). Also ``--dev`` (no auth) as a
  second target. Body ``{"instances": [{"text": T}]}`` to ``/v1/models/youtube-spam/predict``.
- MLflow: ``mlflow models serve -m M --env-manager local --workers N`` of
  ``mlflow.sklearn.save_model(pipeline, pyfunc_predict_fn="predict_proba")`` with a 1-D string
  tensor signature (so both body shapes reach the Pipeline as strings), the bare Pipeline (no
  calibration, no logging, no auth). Bodies ``{"inputs": [T]}`` (its fastest) and
  ``{"dataframe_split": {"columns": ["text"], "data": [[T]]}}`` to ``/invocations``.

Both run with the same interpreter and packages (uvicorn picks uvloop and httptools for both when
they are installed); each with its default access log (weakflow: off; MLflow: on, to a file).
One load generator measures all targets: this script re-invoked with ``--client`` in its own
process, closed loop, C workers with one keep-alive connection each, raw HTTP/1.1 over asyncio
streams (uvloop when importable). Why not httpx: on 2 cores the client shares the machine with
the server, and a GET through uvicorn takes about 0.2 ms (p50) with this client against the
1.7 ms the peers measured with httpx (RESULTS-serve-drift.md, ``/noop``). With one server worker
(the default) the servers are pinned to CPU 0 and the client to CPU 1, as in the peers' runs;
with ``--workers 2`` nothing is pinned. Per level: warm-up requests, then a fixed number of
requests (2,000 at c=1, 4,000 at c=8 and c=64); targets interleaved level by level; ``--runs``
runs (default 3); medians. Floors: in-process ``predict_proba`` on one row (PackagedModel, the
bare Pipeline, and the lean equivalent ``weakflow serve`` runs when it has one; 1,000 calls on
the server's CPU at the start of every run) and a GET of each server's health route at c=1
(HTTP + client alone). Server overhead = weakflow's p50 at c=1 minus the in-process p50 of the
model call the server makes (the lean one when there is one; minus PackagedModel.predict_proba
is reported too).

Goals reported against: weakflow (auth on) >= 3x MLflow's throughput and p99 <= a third of
MLflow's at every level (against MLflow's fastest body), overhead <= 1 ms at c=1.

Usage: python benchmarks/serve.py [--runs 3] [--quick] [--concurrency 1 8 64]
       [--requests-c1 2000] [--requests 4000] [--warmup 200] [--workers 1] [--skip-mlflow]
       [--skip-dev] [--no-pin]
Run it from .venv-bench (``make bench``), where MLflow is installed; without MLflow the weakflow
targets still run and the output says that MLflow was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from _common import fmt, load_average, machine_info, median, print_table, write_results

MODEL_NAME = "youtube-spam"
GOAL_THROUGHPUT = 3.0
GOAL_P99 = 1 / 3
GOAL_OVERHEAD_MS = 1.0
READY_TIMEOUT = 180.0
SERVER_CPU, CLIENT_CPU = 0, 1
FULL_REQUESTS = 4000
#: Texts each target is checked on before the load (answers equal to in-process predict_proba).
CHECK_TEXTS = 5
LEAN = "weakflow serve's lean one-row call (weakflow.serve._fastpath)"
#: The benchmark project's limiter: on (it runs per request) but far above any load here.
SERVE_TOML = "[serve]\nrate_limit = 1000000.0\nrate_burst = 1000000\n"


# -- the load client (runs in its own process: ``serve.py --client SPEC``) ---------------------
async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one prepared request; return (status, body, server closes the connection)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = 0, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    if not chunked:
        return status, await reader.readexactly(length), close
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        parts.append(await reader.readexactly(size + 2))
        if size == 0:
            return status, b"".join(p[:-2] for p in parts), close


async def _client_level(spec: dict[str, Any]) -> dict[str, Any]:
    """One closed-loop level: ``concurrency`` connections, warm-up, then ``requests`` timed."""
    host, port = spec["host"], spec["port"]
    requests = [r.encode("latin-1") for r in spec["requests"]]
    conc, total, warmup = spec["concurrency"], spec["requests_timed"], spec["warmup"]
    deadline_s = spec["max_seconds"]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sample: list[str] = []
    warm_ok = 0
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = [None] * conc

    async def call(w: int, i: int, record: bool) -> None:
        nonlocal warm_ok
        conn = conns[w]
        t0 = time.perf_counter()
        try:
            if conn is None:  # (re)connect outside the timed exchange
                conn = conns[w] = await asyncio.open_connection(host, port)
                t0 = time.perf_counter()
            status, body, close = await _exchange(*conn, requests[i % len(requests)])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            if conn is not None:
                conn[1].close()
            conns[w] = None
            if record:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            return
        dt = time.perf_counter() - t0
        if close:
            conn[1].close()
            conns[w] = None
        if not record:
            warm_ok += 200 <= status < 300
            return
        if 200 <= status < 300:
            latencies.append(dt)
            if not sample:
                sample.append(body[:300].decode(errors="replace"))
        else:
            errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
            if len(sample) < 3:
                sample.append(f"HTTP {status}: {body[:300].decode(errors='replace')}")

    async def run(n: int, record: bool, start: int) -> float:
        counter = itertools.count(start)
        t_start = time.perf_counter()
        stop_at = t_start + deadline_s

        async def worker(w: int) -> None:
            for i in counter:
                if i >= start + n or time.perf_counter() > stop_at:
                    return
                await call(w, i, record)

        await asyncio.gather(*(worker(w) for w in range(conc)))
        return time.perf_counter() - t_start

    await run(max(warmup, conc), False, 0)
    wall = await run(total, True, max(warmup, conc))
    for conn in conns:
        if conn is not None:
            conn[1].close()
    return {
        "wall_s": wall,
        "ok": len(latencies),
        "warmup_ok": warm_ok,
        "errors": errors,
        "latencies_ms": [round(x * 1e3, 4) for x in latencies],
        "sample": sample,
    }


def client_main(spec_path: str) -> int:
    """Entry point of the client process: read the spec, run the level, print JSON."""
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        result = uvloop.run(_client_level(spec))
        result["loop"] = "uvloop"
    else:
        result = asyncio.run(_client_level(spec))
        result["loop"] = "asyncio"
    print(json.dumps(result))
    return 0


# -- servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@dataclass
class ServerProc:
    """A server process this benchmark started (in its own session, so its group can be ended)."""

    name: str
    cmd: list[str]
    port: int
    health_path: str
    log_path: Path
    project: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str], cpu: int | None) -> None:
        self._log = self.log_path.open("wb")

        def pin() -> None:  # runs in the child before exec; its workers inherit the mask
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.proc = subprocess.Popen(
            self.cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=pin,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if _http("GET", self.base + self.health_path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        code = self.proc.poll()
        self.stop()
        raise RuntimeError(
            f"{self.name} did not become ready (exit code {code}); its output:\n"
            + self.log_path.read_text(errors="replace")[-3000:]
        )

    def stop(self) -> None:
        """SIGTERM to the server's process group (uvicorn and its workers), SIGKILL if stuck."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Target:
    """One (server, endpoint, body shape) the load client measures."""

    label: str
    server: ServerProc
    path: str
    requests: list[str]  # raw HTTP/1.1 requests, latin-1 text (bodies are ASCII JSON)
    what: str


def raw_request(port: int, path: str, body: bytes | None, headers: dict[str, str]) -> str:
    """A complete HTTP/1.1 request (keep-alive is HTTP/1.1's default)."""
    lines = [f"{'GET' if body is None else 'POST'} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head + ("" if body is None else body.decode("latin-1"))


# -- model, project, floors -----------------------------------------------------------------
def load_texts() -> list[str]:
    """The bundled YouTube comments in a fixed shuffled order (the peers' request stream)."""
    import pandas as pd

    from weakflow.data import example_path

    files = sorted(example_path("youtube").glob("*.csv"))
    texts = [str(t) for f in files for t in pd.read_csv(f)["CONTENT"]]
    random.Random(0).shuffle(texts)
    return texts


def weakflow_cli() -> list[str]:
    """The ``weakflow`` command of this interpreter (as its console script runs it)."""
    return [sys.executable, "-c", "from weakflow.cli import main; main()"]


def build_project(root: Path) -> Path:
    """``weakflow init --example youtube`` + ``weakflow run``; returns the project folder."""
    project = root / "spam"
    for args in (
        ["init", str(project), "--example", "youtube"],
        ["run", "--project", str(project)],
    ):
        res = subprocess.run([*weakflow_cli(), *args], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"weakflow {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    toml = project / "weakflow.toml"
    toml.write_text(toml.read_text() + "\n" + SERVE_TOML)
    return project


def production_model(project: Path) -> tuple[int, Any]:
    from weakflow.registry import open_registry

    registry = open_registry(project / ".weakflow")
    version = registry.resolve(MODEL_NAME, "production").version
    return version, registry.load_model(MODEL_NAME, version)


def served_config(project: Path) -> dict[str, Any]:
    """The project's effective ``[serve]`` section (defaults filled in), for the record."""
    from weakflow.pipeline import Project

    config: dict[str, Any] = Project.load(project).config.serve.model_dump(mode="json")
    return config


def create_token(project: Path) -> str:
    from weakflow.store import Database, create_token, default_url

    db = Database(default_url(project / ".weakflow"))
    try:
        return create_token(db, "benchmark", ["predict"], actor="benchmark")[1]
    finally:
        db.close()


def count_logged_predictions(project: Path) -> int | None:
    """Rows in the project's prediction log (evidence that logging really ran)."""
    import sqlite3
    from contextlib import closing

    path = project / ".weakflow" / "weakflow.db"
    try:
        with closing(sqlite3.connect(path)) as conn:
            return int(conn.execute("SELECT count(*) FROM predictions").fetchone()[0])
    except sqlite3.Error:
        return None


def in_process_floor(fn: Any, texts: Sequence[str], n: int, pin: bool) -> dict[str, float]:
    """p50 and p99 (ms) of ``fn([text])`` over n calls (after 100 untimed), on the server's CPU."""
    import numpy as np

    before = os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {SERVER_CPU})
    try:
        for i in range(100):
            fn([texts[i % len(texts)]])
        times = []
        for i in range(n):
            t0 = time.perf_counter()
            fn([texts[i % len(texts)]])
            times.append(time.perf_counter() - t0)
    finally:
        os.sched_setaffinity(0, before)
    return {
        "p50_ms": round(float(np.percentile(times, 50)) * 1e3, 4),
        "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 4),
    }


def lean_predictor(model: Any) -> Any | None:
    """The one-row model call ``weakflow serve`` makes for this model, when it has its own.

    The server may run a lean equivalent of ``PackagedModel.predict_proba`` (same bits, less
    scikit-learn plumbing). Its in-process time is the floor its HTTP latency should be
    compared with; the module is private, so this returns None when it is not there.
    """
    try:
        from weakflow.serve._fastpath import compile_text_predictor
    except ImportError:
        return None
    return compile_text_predictor(model)


def save_mlflow_model(estimator: Any, texts: Sequence[str], path: Path) -> None:
    """The same fitted Pipeline as an MLflow sklearn model whose pyfunc returns predict_proba."""
    import numpy as np
    from mlflow.models import infer_signature
    from mlflow.sklearn import save_model

    example = np.array(list(texts[:3]))
    sklearn_version = importlib.metadata.version("scikit-learn")
    save_model(
        estimator,
        str(path),
        signature=infer_signature(example, estimator.predict_proba(example)),
        input_example=example,
        pyfunc_predict_fn="predict_proba",
        pip_requirements=[f"scikit-learn=={sklearn_version}"],
    )


# -- running and summarizing ----------------------------------------------------------------
def run_client(
    target: Target, concurrency: int, n: int, warmup: int, pin: bool, tmp: Path
) -> dict[str, Any]:
    spec = {
        "host": "127.0.0.1",
        "port": target.server.port,
        "requests": target.requests,
        "concurrency": concurrency,
        "requests_timed": n,
        "warmup": warmup,
        "max_seconds": 300.0,
        "cpu": CLIENT_CPU if pin else None,
    }
    spec_path = tmp / "client-spec.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--client", str(spec_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"load client failed:\n{res.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def level_stats(raw: dict[str, Any], requested: int) -> dict[str, Any]:
    import numpy as np

    lat = np.asarray(raw["latencies_ms"], dtype=float)
    n_err = sum(raw["errors"].values())

    def pct(q: float) -> float:
        return float(np.percentile(lat, q)) if lat.size else float("nan")

    return {
        "requested": requested,
        "ok": int(lat.size),
        "warmup_ok": raw["warmup_ok"],
        "errors": n_err,
        "error_kinds": raw["errors"],
        "wall_s": round(raw["wall_s"], 3),
        "rps": round(lat.size / raw["wall_s"], 1) if raw["wall_s"] > 0 else float("nan"),
        "p50_ms": round(pct(50), 3),
        "p90_ms": round(pct(90), 3),
        "p99_ms": round(pct(99), 3),
        "max_ms": round(float(lat.max()), 3) if lat.size else float("nan"),
        "loop": raw.get("loop"),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(runs),
        "rps": round(median([r["rps"] for r in runs]), 1),
        "p50_ms": round(median([r["p50_ms"] for r in runs]), 3),
        "p99_ms": round(median([r["p99_ms"] for r in runs]), 3),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["ok"] + r["errors"] for r in runs),
        "rps_runs": [r["rps"] for r in runs],
        "p50_ms_runs": [r["p50_ms"] for r in runs],
        "p99_ms_runs": [r["p99_ms"] for r in runs],
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dist in ("mlflow", "scikit-learn", "fastapi", "starlette", "uvicorn", "uvloop"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    for dist in ("httptools", "orjson", "pydantic"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of the whole sweep (medians)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--requests-c1", type=int, default=2000, help="timed requests at c=1")
    ap.add_argument("--requests", type=int, default=FULL_REQUESTS, help="timed requests, c>1")
    ap.add_argument("--warmup", type=int, default=200, help="untimed requests before each level")
    ap.add_argument("--workers", type=int, default=1, help="server workers (both servers)")
    ap.add_argument("--quick", action="store_true", help="1 run, 300/600 requests, warm-up 50")
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--skip-dev", action="store_true", help="no weakflow --dev target")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server/client to CPUs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.quick:
        a.runs, a.requests_c1, a.requests, a.warmup = 1, 300, 600, 50
    return a


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    if a.client:
        return client_main(a.client)
    load_at_start = load_average()
    mlflow_why = ""
    if a.skip_mlflow:
        mlflow_why = "--skip-mlflow"
    elif importlib.util.find_spec("mlflow") is None:
        mlflow_why = "mlflow is not importable here (it lives in .venv-bench: run `make bench`)"
    if mlflow_why:
        print(f"MLflow skipped: {mlflow_why}.")
    pin = a.workers == 1 and not a.no_pin and len(os.sched_getaffinity(0)) >= 2
    tmp = Path(tempfile.mkdtemp(prefix="weakflow-serve-bench-"))
    servers: list[ServerProc] = []
    try:
        return _benchmark(a, tmp, servers, pin, mlflow_why, load_at_start)
    finally:
        for s in servers:
            s.stop()
        if a.keep:
            print(f"Kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _benchmark(
    a: argparse.Namespace,
    tmp: Path,
    servers: list[ServerProc],
    pin: bool,
    mlflow_why: str,
    load_at_start: float,
) -> int:
    t0 = time.perf_counter()
    project = build_project(tmp)
    version, model = production_model(project)
    serve_config = served_config(project)
    texts = load_texts()
    token = create_token(project)
    print(
        f"Project built and trained in {time.perf_counter() - t0:.1f} s: {MODEL_NAME} v{version} "
        f"({type(model.estimator).__name__} + {type(model.calibrator).__name__}); "
        f"{len(texts):,} request texts; load average {load_at_start:.2f} at start"
    )

    # The floors are measured at the start of every run (servers idle), like the levels.
    floor_fns = {
        "weakflow PackagedModel.predict_proba": model.predict_proba,
        "sklearn Pipeline.predict_proba (what MLflow serves)": model.estimator.predict_proba,
    }
    lean = lean_predictor(model)
    if lean is not None:
        floor_fns[LEAN] = lean
    floor_runs: dict[str, list[dict[str, float]]] = {k: [] for k in floor_fns}

    # mlflow runs `exec uvicorn ...` through a shell: the interpreter's bin must be on PATH.
    env = {**os.environ, "WEAKFLOW_ACTOR": "benchmark", "NO_COLOR": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cpu = SERVER_CPU if pin else None
    workers = str(a.workers)

    def weakflow_server(name: str, dev: bool) -> ServerProc:
        # Each weakflow server gets its own copy of the project, so their prediction logs do
        # not share (and contend for) one SQLite file.
        copy = Path(shutil.copytree(project, tmp / f"project-{name}"))
        port = free_port()
        cmd = [*weakflow_cli(), "serve", "--project", str(copy), "--host", "127.0.0.1",
               "--port", str(port), "--workers", workers, *(["--dev"] if dev else [])]  # fmt: skip
        return ServerProc(name, cmd, port, "/v2/health/ready", tmp / f"{name}.log", copy)

    predict_path = f"/v1/models/{MODEL_NAME}/predict"
    wf_bodies = [json.dumps({"instances": [{"text": t}]}).encode() for t in texts]
    targets: list[Target] = []
    wf = weakflow_server("weakflow", dev=False)
    servers.append(wf)
    wf.start(env, cpu)
    auth = {"Authorization": f"Bearer {token}"}
    targets.append(
        Target(
            "weakflow",
            wf,
            predict_path,
            [raw_request(wf.port, predict_path, b, auth) for b in wf_bodies],
            "weakflow serve with its defaults (see weakflow_serve_config): the PackagedModel "
            "(Pipeline + Platt calibrator; the server may run its verified lean equivalent and "
            "batch concurrent requests into one model call); every prediction logged to SQLite "
            "by the background writer, which also computes its LF votes and redacts PII; "
            "bearer token (lookup cached) and per-token rate limiter (10^6 req/s); access log "
            "off (default); body {'instances': [{'text': T}]}",
        )
    )
    if not a.skip_dev:
        wf_dev = weakflow_server("weakflow-dev", dev=True)
        servers.append(wf_dev)
        wf_dev.start(env, cpu)
        targets.append(
            Target(
                "weakflow --dev",
                wf_dev,
                predict_path,
                [raw_request(wf_dev.port, predict_path, b, {}) for b in wf_bodies],
                "weakflow serve --dev: as above without auth",
            )
        )
    if not mlflow_why:
        model_dir = tmp / "mlflow-model"
        save_mlflow_model(model.estimator, texts, model_dir)
        port = free_port()
        ml = ServerProc(
            "mlflow",
            [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", str(model_dir),
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", workers],
            port,
            "/ping",
            tmp / "mlflow.log",
        )  # fmt: skip
        servers.append(ml)
        ml.start(env, cpu)
        inputs = [json.dumps({"inputs": [t]}).encode() for t in texts]
        split = [
            json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t]]}}).encode()
            for t in texts
        ]
        targets.append(
            Target(
                "mlflow inputs",
                ml,
                "/invocations",
                [raw_request(ml.port, "/invocations", b, {}) for b in inputs],
                "mlflow models serve: the bare Pipeline's predict_proba after MLflow's schema "
                "enforcement; no calibration, logging or auth; uvicorn access log on (MLflow's "
                "default); body {'inputs': [T]}",
            )
        )
        targets.append(
            Target(
                "mlflow dataframe_split",
                ml,
                "/invocations",
                [raw_request(ml.port, "/invocations", b, {}) for b in split],
                "as above; body {'dataframe_split': {'columns': ['text'], 'data': [[T]]}}",
            )
        )

    checks = correctness_checks(targets, model, texts, token)
    for label, ok in checks.items():
        print(f"  check {label}: {ok}")

    # HTTP + client floor: the health route of each server at c=1 (no model, no body).
    http_floor: dict[str, Any] = {}
    for s in {t.server.name: t.server for t in targets}.values():
        health = Target(
            s.name, s, s.health_path, [raw_request(s.port, s.health_path, None, {})], ""
        )
        raw = [run_client(health, 1, a.requests_c1, a.warmup, pin, tmp) for _ in range(a.runs)]
        http_floor[s.name] = summarize([level_stats(r, a.requests_c1) for r in raw])
        http_floor[s.name]["path"] = s.health_path

    results: dict[str, dict[int, list[dict[str, Any]]]] = {
        t.label: {c: [] for c in a.concurrency} for t in targets
    }
    for run in range(a.runs):
        for name, fn in floor_fns.items():
            floor_runs[name].append(in_process_floor(fn, texts, 1000, pin))
        for c in a.concurrency:
            n = a.requests_c1 if c == 1 else a.requests
            for t in targets:  # interleaved, so drift in the machine's load hits all alike
                stats = level_stats(run_client(t, c, n, a.warmup, pin, tmp), n)
                stats["loadavg_1m"] = round(load_average(), 2)
                results[t.label][c].append(stats)
                print(
                    f"  run {run + 1} c={c:>3} {t.label:<24} {stats['rps']:>8,.1f} req/s "
                    f"p50 {stats['p50_ms']:7.2f} ms p99 {stats['p99_ms']:7.2f} ms "
                    f"errors {stats['errors']}"
                    + (f" {stats['error_kinds']}" if stats["errors"] else "")
                )
                time.sleep(1.0)

    summary = {
        label: {str(c): summarize(runs) for c, runs in per_c.items()}
        for label, per_c in results.items()
    }
    floors = {
        name: {
            "p50_ms": round(median([r["p50_ms"] for r in rs]), 4),
            "p99_ms": round(median([r["p99_ms"] for r in rs]), 4),
            "calls_per_run": 1000,
            "runs": rs,
        }
        for name, rs in floor_runs.items()
    }
    # Stopped gracefully (SIGTERM drains the prediction log), then the log is counted.
    for s in servers:
        s.stop()
    served = sum(r["ok"] + r["warmup_ok"] for per_c in results["weakflow"].values() for r in per_c)
    assert wf.project is not None
    logged = {"served": served + CHECK_TEXTS, "logged": count_logged_predictions(wf.project)}
    extra = {"weakflow_predictions_logged": logged, "weakflow_serve_config": serve_config}
    return report(a, summary, results, floors, http_floor, targets, checks, extra, pin, mlflow_why,
                  load_at_start, version)  # fmt: skip


def correctness_checks(
    targets: list[Target], model: Any, texts: Sequence[str], token: str
) -> dict[str, bool]:
    """Each target answers the in-process probabilities for a few texts (so all serve the same
    model), and weakflow refuses a request without its token."""
    import numpy as np

    out: dict[str, bool] = {}
    sample = list(texts[:CHECK_TEXTS])
    for t in targets:
        ok = True
        for text in sample:
            if t.label.startswith("weakflow"):
                body = json.dumps({"instances": [{"text": text}]}).encode()
                headers = {"Content-Type": "application/json"}
                if t.label == "weakflow":
                    headers["Authorization"] = f"Bearer {token}"
                status, raw = _http("POST", t.server.base + t.path, body, headers)
                pred = json.loads(raw)["predictions"][0] if status == 200 else None
                got = (
                    None if pred is None else [pred["probabilities"][n] for n in model.label_names]
                )
                want = model.predict_proba([text])[0]
            else:
                obj = {"inputs": [text]}
                if "split" in t.label:
                    obj = {"dataframe_split": {"columns": ["text"], "data": [[text]]}}
                status, raw = _http(
                    "POST", t.server.base + t.path, json.dumps(obj).encode(),
                    {"Content-Type": "application/json"},
                )  # fmt: skip
                got = json.loads(raw)["predictions"][0] if status == 200 else None
                want = model.estimator.predict_proba([text])[0]
            ok &= got is not None and bool(np.allclose(got, want, atol=1e-9))
        out[f"{t.label} returns the in-process probabilities"] = ok
        if t.label == "weakflow":
            body = json.dumps({"instances": [{"text": sample[0]}]}).encode()
            status, _ = _http(
                "POST", t.server.base + t.path, body, {"Content-Type": "application/json"}
            )
            out["weakflow without a token answers 401"] = status == 401
    return out


def report(
    a: argparse.Namespace,
    summary: dict[str, dict[str, Any]],
    results: dict[str, dict[int, list[dict[str, Any]]]],
    floors: dict[str, Any],
    http_floor: dict[str, Any],
    targets: list[Target],
    checks: dict[str, bool],
    extra: dict[str, Any],
    pin: bool,
    mlflow_why: str,
    load_at_start: float,
    version: int,
) -> int:
    rows = []
    for label, per_c in summary.items():
        for c, s in per_c.items():
            errors = f"{s['errors']}/{s['requests']}"
            rows.append(
                [label, c, f"{s['rps']:,.1f}", fmt(s["p50_ms"], 2), fmt(s["p99_ms"], 2), errors]
            )
    print_table(
        f"One-row requests, median of {a.runs} run(s), workers={a.workers}, "
        f"{'server CPU 0 / client CPU 1' if pin else 'unpinned'}",
        ["target", "concurrency", "req/s", "p50 ms", "p99 ms", "errors"],
        rows,
    )
    print_table(
        "Floors (in-process one-row predict_proba on the server CPU; health route at c=1)",
        ["what", "p50 ms", "p99 ms"],
        [[k, fmt(v["p50_ms"], 3), fmt(v["p99_ms"], 3)] for k, v in floors.items()]
        + [
            [f"GET {v['path']} ({k}) over HTTP", fmt(v["p50_ms"], 3), fmt(v["p99_ms"], 3)]
            for k, v in http_floor.items()
        ],
    )

    wf_floor = floors["weakflow PackagedModel.predict_proba"]["p50_ms"]
    overhead = {
        label: round(summary[label]["1"]["p50_ms"] - wf_floor, 3)
        for label in summary
        if label.startswith("weakflow") and "1" in summary[label]
    }
    # The same against the model call the server really makes, when it has a lean one.
    overhead_vs_lean = (
        {
            label: round(summary[label]["1"]["p50_ms"] - floors[LEAN]["p50_ms"], 3)
            for label in overhead
        }
        if LEAN in floors
        else None
    )
    ratios: dict[str, Any] = {}
    goals: dict[str, Any] = {
        "throughput_ratio_min": GOAL_THROUGHPUT,
        "p99_ratio_max": round(GOAL_P99, 4),
        "overhead_ms_max": GOAL_OVERHEAD_MS,
    }
    if "1" in summary.get("weakflow", {}):
        # Judged against the model call the server really makes: when it runs a lean path,
        # p50 minus PackagedModel.predict_proba would credit that speed-up to the HTTP layer.
        judged = overhead if overhead_vs_lean is None else overhead_vs_lean
        goals["overhead_floor"] = (
            "PackagedModel.predict_proba" if overhead_vs_lean is None else LEAN
        )
        goals["overhead_ms"] = judged["weakflow"]
        goals["overhead_vs_packaged_predict_proba_ms"] = overhead["weakflow"]
        goals["overhead_met"] = judged["weakflow"] <= GOAL_OVERHEAD_MS
    if not mlflow_why:
        for wf_label in [t.label for t in targets if t.label.startswith("weakflow")]:
            for ml_label in [t.label for t in targets if t.label.startswith("mlflow")]:
                key = f"{wf_label} vs {ml_label}"
                ratios[key] = {
                    c: {
                        "throughput_ratio": round(
                            summary[wf_label][c]["rps"] / summary[ml_label][c]["rps"], 3
                        ),
                        "p99_ratio": round(
                            summary[wf_label][c]["p99_ms"] / summary[ml_label][c]["p99_ms"], 3
                        ),
                    }
                    for c in summary[wf_label]
                }
        # The goals are judged against MLflow's faster body ({"inputs": ...}).
        main_ratios = ratios["weakflow vs mlflow inputs"]
        goals["per_concurrency"] = {
            c: {
                **r,
                "throughput_met": r["throughput_ratio"] >= GOAL_THROUGHPUT,
                "p99_met": r["p99_ratio"] <= GOAL_P99,
            }
            for c, r in main_ratios.items()
        }
        goals["throughput_met"] = all(
            v["throughput_met"] for v in goals["per_concurrency"].values()
        )
        goals["p99_met"] = all(v["p99_met"] for v in goals["per_concurrency"].values())
        ratio_rows = [
            [key, c, f"{r['throughput_ratio']:.2f}x", f"{r['p99_ratio']:.2f}"]
            for key, per_c in ratios.items()
            for c, r in per_c.items()
        ]
        print_table(
            "Ratios (goal: throughput >= 3x, p99 ratio <= 0.33, against mlflow inputs)",
            ["pair", "concurrency", "throughput", "p99 ratio"],
            ratio_rows,
        )
        for c, g in goals["per_concurrency"].items():
            print(
                f"Goal c={c}: throughput {g['throughput_ratio']:.2f}x "
                f"({'met' if g['throughput_met'] else 'NOT met'}), p99 ratio "
                f"{g['p99_ratio']:.2f} ({'met' if g['p99_met'] else 'NOT met'})"
            )
    else:
        goals["throughput_met"] = goals["p99_met"] = None
        print("Throughput and p99 goals not evaluated: MLflow was skipped.")
    for label, ms in overhead.items():
        print(
            f"Server overhead ({label}): p50 at c=1 minus PackagedModel.predict_proba's "
            f"in-process p50 {wf_floor:.3f} ms = {ms:.3f} ms"
        )
        if overhead_vs_lean is not None:
            print(
                f"  ... minus the server's own lean one-row call instead "
                f"({floors[LEAN]['p50_ms']:.3f} ms): {overhead_vs_lean[label]:.3f} ms"
            )
    if "overhead_met" in goals:
        print(
            f"Goal overhead <= {GOAL_OVERHEAD_MS} ms (against {goals['overhead_floor']}): "
            f"{goals['overhead_ms']:.3f} ms, {'met' if goals['overhead_met'] else 'NOT met'}"
        )
    logged = extra["weakflow_predictions_logged"]
    if logged["logged"] is not None:
        print(
            f"weakflow's prediction log after a graceful stop: {logged['logged']:,} records for "
            f"{logged['served']:,} predictions served (warm-ups included)"
        )
    total_errors = sum(s["errors"] for per_c in summary.values() for s in per_c.values())
    all_checks = all(checks.values())

    payload = {
        "benchmark": "serve",
        "machine": machine_info(load_at_start),
        "loadavg_1m_at_end": round(load_average(), 2),
        "serving_versions": versions(),
        "params": {
            "runs": a.runs,
            "concurrency": a.concurrency,
            "requests_c1": a.requests_c1,
            "requests": a.requests,
            "warmup": a.warmup,
            "workers": a.workers,
            "pinned": {"server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU} if pin else None,
            "mlflow_skipped": mlflow_why or None,
            "model": f"{MODEL_NAME} v{version}",
            "client": "this script with --client: its own process, closed loop, one keep-alive "
            "connection per worker, raw HTTP/1.1 over asyncio streams (uvloop when importable)",
            "weakflow_project_serve_config": SERVE_TOML.strip().splitlines(),
        },
        "targets": {t.label: {"what": t.what, "path": t.path} for t in targets},
        "checks": checks,
        "floors_in_process": floors,
        "floors_http_health": http_floor,
        "summary": summary,
        "runs": {label: {str(c): r for c, r in per_c.items()} for label, per_c in results.items()},
        "server_overhead_ms": overhead,
        "server_overhead_vs_lean_call_ms": overhead_vs_lean,
        "ratios": ratios,
        "goal": goals,
        **extra,
    }
    name = "serve" if a.requests == FULL_REQUESTS and a.runs >= 3 else f"serve-{a.requests}"
    if a.workers != 1:
        name += f"-workers{a.workers}"
    path = write_results(name, payload)
    print(f"Results: {path}")
    return 0 if all_checks and total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
