"""Fixtures shared by the whole test suite: the bundled example data, read from the package."""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from weakflow.labeling import apply_lfs
from weakflow.labeling.examples import youtube_spam_lfs

# Property tests run the same examples on every run (CI must not be flaky); set
# HYPOTHESIS_PROFILE=explore locally to search new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@cache
def _youtube() -> pd.DataFrame:
    folder = importlib.resources.files("weakflow") / "data" / "examples" / "youtube"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".csv")), key=lambda f: f.name)
    frames = []
    for f in files:
        with f.open("rb") as fh:
            frames.append(pd.read_csv(fh))
    return pd.concat(frames, ignore_index=True).rename(columns={"CONTENT": "text"})


@pytest.fixture
def youtube() -> pd.DataFrame:
    """The UCI YouTube spam comments (5 CSVs in filename order), CONTENT renamed to ``text``.

    A fresh copy per test, so a test that modifies it cannot affect another.
    """
    return _youtube().copy()


def write_wrench_folder(
    folder: Path, youtube: pd.DataFrame, *, n_valid: int = 120, n_test: int = 300, seed: int = 0
) -> Path:
    """Write label.json and train/valid/test.json for a seeded split of the comments."""
    folder.mkdir(parents=True, exist_ok=True)
    L = apply_lfs(youtube_spam_lfs(), youtube[["text"]], progress=False, cardinality=2).values
    order = np.random.default_rng(seed).permutation(len(youtube))
    parts = {
        "valid": order[:n_valid],
        "test": order[n_valid : n_valid + n_test],
        "train": order[n_valid + n_test :],
    }
    for name, rows in parts.items():
        items = {
            str(int(i)): {
                "label": int(youtube["CLASS"].iloc[i]),
                "weak_labels": [int(v) for v in L[i]],
                "data": {"text": str(youtube["text"].iloc[i])},
            }
            for i in rows
        }
        (folder / f"{name}.json").write_text(json.dumps(items))
    (folder / "label.json").write_text(json.dumps({"0": "HAM", "1": "SPAM"}))
    return folder


@pytest.fixture(scope="session")
def _wrench_master(tmp_path_factory) -> Path:
    return write_wrench_folder(tmp_path_factory.mktemp("wrench") / "youtube", _youtube())


@pytest.fixture
def wrench_dir(_wrench_master: Path, tmp_path: Path) -> Path:
    """A WRENCH-format folder (label.json, train/valid/test.json) made from the bundled
    YouTube comments with weakflow's spam-tutorial LFs; a private copy per test."""
    return Path(shutil.copytree(_wrench_master, tmp_path / "youtube"))


# -- PostgreSQL for the store tests ---------------------------------------------------------------
# The store suite runs against SQLite and a real PostgreSQL server. Where one is found:
# $WEAKFLOW_TEST_PG_URL (an admin URL), else the server on 127.0.0.1:5432 (CI has one), else a
# throwaway cluster started with initdb/pg_ctl when the binaries exist. Otherwise the PostgreSQL
# tests skip with the reason printed, except under CI (or WEAKFLOW_REQUIRE_SERVICES=1), where a
# missing server is a failure: there they must run.
PG_DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _services_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("WEAKFLOW_REQUIRE_SERVICES"))


def _pg_reachable(url: str) -> str | None:
    """None when a connection works, else why not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


def _throwaway_cluster(tmp: Path) -> tuple[str, list[str]] | str:
    """Start a PostgreSQL cluster in ``tmp``: (admin URL, stop command) or why it cannot."""
    import socket
    import subprocess

    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        return "no PostgreSQL server on 127.0.0.1:5432 and no initdb/pg_ctl binaries"
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root; use the postgres system user
        runuser = shutil.which("runuser")
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
        if runuser is None:
            return "running as root and runuser is missing"
        prefix = [runuser, "-u", "postgres", "--"]
        os.chmod(tmp, 0o777)
    data = tmp / "pgdata"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-w", "-l", str(tmp / "pg.log"),
             "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        return f"could not start a throwaway PostgreSQL with initdb/pg_ctl: {exc} {detail}"
    except (subprocess.SubprocessError, OSError) as exc:
        return f"could not start a throwaway PostgreSQL with initdb/pg_ctl: {exc}"
    stop = [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """An admin URL of a running PostgreSQL server (see the comment above)."""
    import subprocess

    url = os.environ.get("WEAKFLOW_TEST_PG_URL") or PG_DEFAULT_ADMIN
    why = _pg_reachable(url)
    stop: list[str] | None = None
    if why is not None:
        # Not under pytest's temp folder: that is private to our user, and as root the cluster
        # runs as the postgres user, who must be able to reach its data folder.
        import tempfile

        started = _throwaway_cluster(Path(tempfile.mkdtemp(prefix="weakflow-pg-")))
        if isinstance(started, str):
            reason = f"PostgreSQL unavailable ({why}; {started})"
            if _services_required():
                pytest.fail(f"{reason}: under CI the PostgreSQL tests must run.")
            print(f"\nSKIP: {reason}")
            pytest.skip(reason)
        url, stop = started
    yield url
    if stop is not None:
        subprocess.run(stop, check=False, capture_output=True)
        shutil.rmtree(Path(stop[stop.index("-D") + 1]).parent, ignore_errors=True)


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"weakflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'weakflow.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
