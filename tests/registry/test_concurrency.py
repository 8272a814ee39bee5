"""Real processes against one store: concurrent promotions and a registration killed midway."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from weakflow.registry import Registry
from weakflow.store import ArtifactStore, Database, verify_audit

PROMOTER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from weakflow.registry import Registry
    from weakflow.store import ArtifactStore, Database

    url, root, go, me, versions, rounds = sys.argv[1:7]
    versions = [int(v) for v in versions.split(",")]
    reg = Registry(Database(url), ArtifactStore(root))
    while not Path(go).exists():
        time.sleep(0.005)
    moves = []
    for i in range(int(rounds)):
        m = reg.promote("spam", versions[i % len(versions)], "production", actor=me,
                        reason=f"{me} round {i}")
        moves.append([m.from_version, m.to_version, m.action])
    print(json.dumps(moves))
    """
)

CRASHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from weakflow.registry import Registry
    from weakflow.store import ArtifactStore, Database

    url, root, sha, inside = sys.argv[1:5]
    reg = Registry(Database(url), ArtifactStore(root))

    def card(version):
        # The version row is being written in the open transaction: signal, then hang.
        Path(inside).write_text(str(version))
        time.sleep(120)
        return {}, ""

    reg.register("spam", artifact_sha256=sha, actor="doomed", card=card)
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.mark.slow
def test_two_processes_promoting_one_alias_keep_history_consistent(
    registry: Registry, model_sha: str, tmp_path: Path
) -> None:
    for _ in range(4):
        registry.register("spam", artifact_sha256=model_sha, actor="ci")
    url, root, go = registry.db.url, str(registry.artifacts.root), tmp_path / "go"
    rounds = 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROMOTER, url, root, str(go), me, versions, str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for me, versions in (("alice", "1,2"), ("bob", "3,4"))
    ]
    time.sleep(1.0)  # both are connected and waiting
    go.write_text("go")
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        assert p.returncode == 0, stderr
        results.append(json.loads(stdout))

    moves = [m for r in results for m in r if m[2] != "noop"]
    history = registry.history("spam", "production")
    assert len(history) == len(moves) >= rounds  # every move that happened is recorded once
    # the chain is unbroken: each move starts where the one before it ended
    assert history[0].from_version is None
    for before, after in itertools.pairwise(history):
        assert after.from_version == before.to_version
    assert {h.actor for h in history} == {"alice", "bob"}
    assert registry.alias_version("spam", "production") == history[-1].to_version
    # each process saw the version it actually replaced
    recorded = sorted((h.from_version or 0, h.to_version or 0) for h in history)
    assert recorded == sorted((m[0] or 0, m[1] or 0) for m in moves)
    audit = verify_audit(registry.db)
    assert audit.ok
    assert audit.checked == 4 + len(moves)


@pytest.mark.slow
def test_registration_killed_midway_leaves_nothing_half_registered(
    registry: Registry, model_sha: str, tmp_path: Path
) -> None:
    registry.register("other", artifact_sha256=model_sha, actor="ci")
    inside = tmp_path / "inside"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, registry.db.url, str(registry.artifacts.root),
         model_sha, str(inside)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not inside.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the registering process never got going"
        time.sleep(0.02)
    assert inside.read_text() == "1"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    fresh = Registry(Database(registry.db.url), ArtifactStore(registry.artifacts.root))
    try:
        assert fresh.models() == ["other"]  # no registered model, no version row
        audit = verify_audit(fresh.db)
        assert audit.ok
        assert audit.checked == 1
        assert fresh.register("spam", artifact_sha256=model_sha, actor="ci").version == 1
        assert verify_audit(fresh.db).checked == 2
    finally:
        fresh.db.close()
