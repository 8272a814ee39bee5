"""Black box: schemathesis fuzzes every operation of a running ``weakflow serve --dev``.

The server's OpenAPI document is the contract clients are generated from, so every request it
describes, and the malformed variants schemathesis derives from it (wrong types, missing
fields, boundary values), must get an answer a client can act on: a 2xx, or a 4xx that says
what is wrong. A 5xx means a request reached code that did not expect it.

It runs schemathesis's own runner (``st run``, the examples, coverage and fuzzing phases) in a
subprocess rather than its pytest integration: ``schemathesis.pytest.from_fixture``, the way to
test a server that a fixture starts, reads ``request.node._nodeid``, which pytest 9 removed.
The run is bounded (25 examples per operation) and deterministic (``--generation-deterministic``,
which also keeps no example database), so it is the same on every run and CI cannot flake on a
new example.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

MAX_EXAMPLES = 25
MODEL = "youtube-spam"


@pytest.mark.slow
def test_no_request_from_the_openapi_schema_gets_a_server_error(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = Path(shutil.copytree(served_project, tmp_path / "p"))
    # --dev: no authentication, so the generated requests reach the handlers.
    server = start_server(project, dev=True)
    # Real values for the identifiers, so generated bodies get past the 404s and into the
    # handlers: the served model's name, and a prediction id that feedback can refer to.
    resp = httpx.post(
        f"{server.url}/v1/models/{MODEL}/predict", json={"instances": [{"text": "hi"}]}
    )
    assert resp.status_code == 200, resp.text
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.name" = "{MODEL}"\n'
        f'"body.prediction_id" = "{resp.json()["predictions"][0]["id"]}"\n'
    )
    st = Path(sys.executable).with_name("st")
    cmd = [
        str(st), "--config-file", str(config), "run", f"{server.url}/openapi.json",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
    report = res.stdout[-6000:] + res.stderr[-2000:]
    assert res.returncode == 0, f"schemathesis found server errors:\n{report}"
    # Something was actually sent: "<n> generated, <n> passed" with n > 0.
    counts = re.search(r"(\d+) generated, (\d+) passed", res.stdout)
    assert counts is not None, report
    assert int(counts[1]) > 0, report
    assert counts[1] == counts[2], report
    assert server.proc.poll() is None, "the server died under fuzzing:\n" + server.log()[-3000:]
