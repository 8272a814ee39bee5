"""The closed loop of ``weakflow demo``: serve, drift, alerts, feedback, retrain, canary, rollback.

Every step is the real thing, in this process or a child one: ``weakflow serve`` runs as a
subprocess on 127.0.0.1 with an API token, traffic and feedback go over HTTP, and
``weakflow.monitor.run_monitor`` / ``watch_once`` (what ``weakflow monitor run`` and ``monitor
watch --once`` do) read the prediction log the server wrote and act through the registry. The
only thing simulated is the users: the comments they post (the example's train pool, then a
spam style the example never saw, :func:`weakflow.data.crypto_scam_comments`) and the labels
they send back (the dataset's gold labels).

The demo appends a short, commented block to the project's weakflow.toml that makes the loop
fast enough to watch (small windows and feedback thresholds, a 0.2 s alias poll); everything
else is the project's own configuration.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape

from weakflow.cli._console import out

__all__ = ["DEMO_CONFIG", "run_story"]

#: What the demo adds to weakflow.toml (once): a loop that turns in seconds, not hours.
DEMO_CONFIG = """
# -- added by `weakflow demo`: a loop fast enough to watch ------------------------------------
[serve]
rate_limit = 0          # the demo's users send requests back to back
reload_interval = 0.2   # follow alias moves (promotions, canary, rollback) within 0.2 s
canary_percent = 50     # half of the clients try a canary

[monitor]
last = 300              # a window is the last 300 predictions
consecutive = 2         # alert after 2 bad windows in a row

[loop]
feedback_count = 150    # retrain after 150 new labels (or on a drift / accuracy alert)
canary_min_feedback = 60
min_feedback = 40
watch = "1h"
"""

WINDOW = 300
PER_REQUEST = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoServer:
    """``weakflow serve`` in a child process, stopped when the story ends (or fails)."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.port = _free_port()
        self.log_path = project / ".weakflow" / "demo-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        cli = [sys.executable, "-c", "from weakflow.cli import main; main()"]
        args = [*cli, "serve", "--project", str(self.project), "--host", "127.0.0.1",
                "--port", str(self.port), "--log-level", "warning"]  # fmt: skip
        env = {**os.environ, "WEAKFLOW_ACTOR": "weakflow-demo"}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"`weakflow serve` exited with {self.proc.returncode}; its log: "
                    f"{self.log_path}\n{self.log_path.read_text()[-2000:]}"
                )
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/v2/health/ready")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"`weakflow serve` was not ready after {timeout:.0f}s: {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """A keep-alive JSON client for the demo's users (the standard library's http.client)."""

    def __init__(self, port: int, token: str, model: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.model = model

    def post(self, path: str, body: Any, **headers: str) -> Any:
        payload, all_headers = json.dumps(body), {**self.headers, **headers}
        try:
            self.conn.request("POST", path, payload, all_headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # the server closed an idle keep-alive connection (while the loop retrained)
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request("POST", path, payload, all_headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path} answered {response.status}: {data[:500]!r}")
        return json.loads(data)

    def predict(self, texts: list[str], user: str) -> list[dict[str, Any]]:
        body = {"instances": [{"text": t} for t in texts]}
        got = self.post(f"/v1/models/{self.model}/predict", body, **{"X-Client-Key": user})
        return list(got["predictions"])

    def feedback(self, items: list[tuple[str, int]]) -> int:
        body = [{"prediction_id": pid, "label": y, "source": "demo-users"} for pid, y in items]
        return int(self.post("/v1/feedback", body)["accepted"])


class Traffic:
    """The demo's users: comments from the train pool, then the new scam style, with gold."""

    def __init__(self, project: Path, seed: int = 0) -> None:
        from weakflow.data import crypto_scam_comments, load_youtube, read_table

        gold = load_youtube()["label"].to_numpy()
        pool = read_table(project / "data" / "train.csv")
        index = pool["id"].str.removeprefix("yt-").astype(int).to_numpy()
        self.texts = pool["text"].fillna("").astype(str).to_numpy()
        self.gold = gold[index].astype(int)
        self.scams = crypto_scam_comments(4000, seed=seed)
        self.rng = np.random.default_rng(seed)
        self.sent = 0

    def window(self, n: int, scam_share: float) -> list[tuple[str, int]]:
        n_scam = round(n * scam_share)
        rows = self.rng.choice(len(self.texts), n - n_scam, replace=False)
        items = [(str(self.texts[i]), int(self.gold[i])) for i in rows]
        items += [(t, 1) for t in self.scams[:n_scam]]
        self.scams = self.scams[n_scam:]
        order = self.rng.permutation(len(items))
        return [items[i] for i in order]


class Story:
    """The state the steps share: project, server, client, and what was sent."""

    def __init__(self, project: Path) -> None:
        from weakflow.pipeline import Project

        self.root = project
        self.project = Project.load(project)
        self.name = self.project.config.project.name
        self.server = DemoServer(project)
        self.traffic = Traffic(project)
        self.client: Client | None = None
        self.users = 0

    # -- helpers ------------------------------------------------------------------------------
    def registry(self) -> Any:
        from weakflow.registry import open_registry

        return open_registry(self.project.state_dir, self.project.config.store.url)

    def send(self, items: list[tuple[str, int]]) -> list[tuple[dict[str, Any], int]]:
        """Post the comments as users of a few comments each; the answers with their gold."""
        assert self.client is not None
        answered: list[tuple[dict[str, Any], int]] = []
        for start in range(0, len(items), PER_REQUEST):
            chunk = items[start : start + PER_REQUEST]
            self.users += 1
            preds = self.client.predict([t for t, _ in chunk], user=f"user-{self.users}")
            answered += list(zip(preds, [y for _, y in chunk], strict=True))
        return answered

    def label(self, answered: list[tuple[dict[str, Any], int]]) -> int:
        assert self.client is not None
        items = [(p["id"], y) for p, y in answered]
        return sum(self.client.feedback(items[i : i + 100]) for i in range(0, len(items), 100))

    def monitor(self, title: str) -> dict[str, Any]:
        from weakflow.monitor import run_monitor

        time.sleep(0.5)  # the server writes its prediction log off the request path
        result = run_monitor(self.project)
        est = result.get("estimated") or {}
        lo, hi = (est.get("interval") or {}).get("accuracy", [float("nan")] * 2)
        alerts = result["alerts"]
        head = (
            f"{title}: {result['n']} predictions of v{result['model']['version']}, estimated "
            f"accuracy {est.get('accuracy', float('nan')):.3f} [{lo:.3f}, {hi:.3f}] (no labels "
            f"needed), {len(result['signals'])} signal(s), {len(alerts)} alert(s)"
        )
        out.print(f"[cyan]monitor[/]   {head}", soft_wrap=True)
        by_kind: dict[str, list[dict[str, Any]]] = {}
        # LF alerts: agreement with the model first (the model being wrong), biggest moves first
        order = {"agreement": 0, "conflict": 1, "coverage": 2}
        alerts = sorted(
            alerts,
            key=lambda a: (
                (order.get(a["statistic"], 3), -abs(a["value"] - a["threshold"]))
                if a["kind"] == "lf_drift"
                else (0, 0.0)
            ),
        )
        for alert in alerts:
            by_kind.setdefault(alert["kind"], []).append(alert)
        for kind in ("performance", "lf_drift", "text_drift", "prediction_drift", "feature_drift"):
            group = by_kind.get(kind, [])
            for alert in group[: 2 if kind == "lf_drift" else 1]:
                out.print(f"            [red]alert[/] {escape(alert['message'])}", soft_wrap=True)
            if len(group) > 2 or (len(group) > 1 and kind != "lf_drift"):
                shown = 2 if kind == "lf_drift" else 1
                out.print(f"            ... {len(group) - shown} more {kind} alert(s)")
        return result

    def watch(self) -> list[dict[str, Any]]:
        from weakflow.monitor import watch_once

        time.sleep(0.5)
        decisions = watch_once(self.project)
        for d in decisions:
            what = d.get("summary") or d["reason"]
            out.print(f"[magenta]loop[/]      {d['action']}: {what}", soft_wrap=True)
        return decisions

    def wait_for_version(self, version: int, *, variant: str, timeout: float = 30.0) -> None:
        """Until some client is answered by ``version`` (the server polls its aliases)."""
        deadline = time.monotonic() + timeout
        probe = self.traffic.texts[:1].tolist()
        while time.monotonic() < deadline:
            assert self.client is not None
            seen = {
                self.client.predict(probe, user=f"probe-{i}")[0]["model_version"] for i in range(20)
            }
            if version in seen and (variant != "primary" or seen == {version}):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the server did not pick up v{version} as {variant} in {timeout}s")


def _accuracy(answered: list[tuple[dict[str, Any], int]], version: int | None = None) -> str:
    rows = [(p, y) for p, y in answered if version is None or p["model_version"] == version]
    if not rows:
        return "no answers"
    from weakflow.monitor import wilson

    hits = sum(p["label"] == y for p, y in rows)
    lo, hi = wilson(hits, len(rows))
    return f"{hits / len(rows):.3f} [{lo:.3f}, {hi:.3f}] on {len(rows)}"


def _add_demo_config(root: Path) -> None:
    path = root / "weakflow.toml"
    text = path.read_text()
    if "added by `weakflow demo`" not in text:
        path.write_text(text.rstrip() + "\n" + DEMO_CONFIG)


def run_story(root: Path) -> None:
    """Run the loop on a project whose v1 is trained and in production (see module docstring)."""
    from weakflow.registry import current_actor
    from weakflow.store import create_token

    _add_demo_config(root)
    story = Story(root)
    registry = story.registry()
    try:
        _info, token = create_token(
            registry.db, f"demo-{time.time_ns()}", ["predict", "feedback"], actor=current_actor()
        )
        v1 = registry.alias_version(story.name, "production")
    finally:
        registry.db.close()
    out.rule("[bold]The loop[/]: serve, drift, feedback, retrain, canary, rollback")
    story.server.start()
    try:
        story.client = Client(story.server.port, token, story.name)
        out.print(
            f"[green]serve[/]     weakflow serve: v{v1} at http://127.0.0.1:{story.server.port} "
            f"(docs at /docs, metrics at /metrics), with an API token (predict, feedback)",
            soft_wrap=True,
        )
        _steps(story, v1)
    finally:
        story.server.stop()


def _steps(story: Story, v1: int) -> None:
    # 1. traffic like the training data: nothing to report
    story.send(story.traffic.window(WINDOW, 0.0))
    out.print(f"[green]traffic[/]   {WINDOW} comments like the training data")
    story.monitor("window 1")

    # 2. a new spam style arrives: drift, LF alerts, the estimate falls
    drifted: list[tuple[dict[str, Any], int]] = []
    for i in (2, 3):
        drifted += story.send(story.traffic.window(WINDOW, 0.4))
        out.print(
            f"[green]traffic[/]   {WINDOW} comments, 40% of them crypto scams the model never saw"
        )
        story.monitor(f"window {i}")

    # 3. users label what they were shown
    sent = story.label(drifted[: WINDOW * 2 : 2])
    out.print(
        f"[green]feedback[/]  users labeled {sent} predictions: v{v1}'s realized accuracy "
        f"{_accuracy(drifted[: WINDOW * 2 : 2])}",
        soft_wrap=True,
    )

    # 4. the loop retrains on the alerts and the feedback; v2 goes to the canary alias
    decisions = story.watch()
    retrained = next((d for d in decisions if d["action"] == "retrain"), None)
    if retrained is None or not retrained["promoted"]:
        out.print("[yellow]The loop did not put a new version on canary; the story ends here.[/]")
        return
    v2 = int(retrained["version"])
    story.wait_for_version(v2, variant="canary")

    # 5. canary: half of the clients get v2; their labels decide
    canary = story.send(story.traffic.window(WINDOW + 100, 0.4))
    story.label(canary)
    out.print(
        f"[green]canary[/]    v{v2} answered {sum(p['model_version'] == v2 for p, _ in canary)} "
        f"of {len(canary)} comments: realized accuracy v{v2} {_accuracy(canary, v2)}, "
        f"v{v1} {_accuracy(canary, v1)}",
        soft_wrap=True,
    )
    story.watch()
    story.wait_for_version(v2, variant="primary")
    _bad_version(story, v2)


def _bad_version(story: Story, good: int) -> None:
    """An LF edit with a bug: the gates reject it, an operator forces it, the loop rolls back."""
    from weakflow.pipeline import run_project
    from weakflow.store import verify_audit

    lfs = story.root / "lfs.py"
    original = lfs.read_text()
    broken = original.replace("SPAM = 1\nHAM = 0\n", "SPAM = 0\nHAM = 1\n")
    if broken == original:
        out.print("[yellow]lfs.py has no `SPAM = 1` / `HAM = 0` lines to break; skipping.[/]")
        return
    backup = lfs.with_suffix(".py.demo-backup")
    shutil.copyfile(lfs, backup)
    try:
        lfs.write_text(broken)
        result = run_project(story.project, actor="weakflow-demo")
    finally:
        shutil.move(backup, lfs)
    model = result.summary()["model"]
    failed = [g["rule"] for g in model["gates"] if not g["passed"]]
    bad = int(model["version"])
    out.print(
        f"[green]run[/]       an LF edit swaps SPAM and HAM: v{bad} test accuracy "
        f"{result.report['end_model']['test']['accuracy']:.3f}; gates failed: {failed}",
        soft_wrap=True,
    )
    registry = story.registry()
    try:
        registry.promote(
            story.name, bad, "production", actor="weakflow-demo",
            reason="demo: an operator forces a version the gates rejected",
        )  # fmt: skip
    finally:
        registry.db.close()
    out.print(f"[green]promote[/]   an operator forces v{bad} into production anyway")
    story.wait_for_version(bad, variant="primary")
    answered = story.send(story.traffic.window(150, 0.2))
    story.label(answered)
    out.print(f"[green]traffic[/]   150 comments with feedback: v{bad} {_accuracy(answered, bad)}")
    story.watch()
    registry = story.registry()
    try:
        now = registry.alias_version(story.name, "production")
        moves = registry.history(story.name, "production")
        verified = verify_audit(registry.db)
    finally:
        registry.db.close()
    story.wait_for_version(good, variant="primary")
    path = " -> ".join(f"v{m.to_version}" for m in moves if m.to_version is not None)
    out.print(f"[bold]production[/] is v{now} again; its history: {path}", soft_wrap=True)
    state = "intact" if verified.ok else f"BROKEN at entry {verified.first_bad}: {verified.reason}"
    out.print(
        f"[bold]audit[/]     {verified.checked} entries, hash chain {state} "
        f"(weakflow audit log --project {story.root})",
        soft_wrap=True,
    )
    out.print(
        f"[bold]next[/]      look around: weakflow ui --project {story.root} (dashboard and "
        f"review queue); weakflow governance report --project {story.root} (for auditors)",
        soft_wrap=True,
    )
