"""The micro-batcher on its own: who runs when, what goes into one call, what comes back.

The model is a stand-in whose calls block until the test releases them, so "requests that
arrive while the model is busy" is arranged exactly, without timing anything: a call's rows
and the order of calls are what the tests check.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from weakflow.serve._batching import Batcher, BatchExecutor


class Version:
    """A LoadedVersion stand-in: ``predict_proba`` returns ``[x, -x]`` per row ``{"x": x}``."""

    def __init__(self, version: int, gate: bool = False) -> None:
        self.version = version
        self.calls: list[list[float]] = []
        self.threads: list[int] = []
        self.started = threading.Semaphore(0)
        self.release = threading.Semaphore(0 if gate else 10_000)

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        xs = [float(r["x"]) for r in rows]
        self.calls.append(xs)
        self.threads.append(threading.get_ident())
        self.started.release()
        assert self.release.acquire(timeout=30), "the test never released the model"
        if any(x < 0 for x in xs):
            raise ValueError(f"negative x in {xs}")
        return np.array([[x, -x] for x in xs], dtype=np.float64)


def rows(*xs: float) -> list[dict[str, Any]]:
    return [{"x": x} for x in xs]


async def wait_started(model: Version) -> None:
    """Until the model's next call has begun (it then blocks on ``release``)."""
    while not model.started.acquire(blocking=False):
        await asyncio.sleep(0.001)


@pytest.fixture
def executor() -> Any:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


def test_idle_runs_at_once_and_the_queue_becomes_one_call(executor: ThreadPoolExecutor) -> None:
    model = Version(1, gate=True)
    observed: list[tuple[int, int]] = []
    batcher = Batcher(
        64, executor, lambda served, n: observed.append((served.version, n)), alone_rows=0
    )

    async def main() -> list[np.ndarray]:
        first = asyncio.ensure_future(batcher.predict(model, rows(1.0)))  # type: ignore[arg-type]
        await wait_started(model)  # running alone, with nothing else waiting
        assert model.calls == [[1.0]]
        rest = [
            asyncio.ensure_future(batcher.predict(model, rows(*xs)))  # type: ignore[arg-type]
            for xs in ([2.0], [3.0, 4.0], [5.0])
        ]
        await asyncio.sleep(0.01)  # they queue behind the busy model, none starts a call
        assert model.calls == [[1.0]]
        model.release.release(2)
        return await asyncio.gather(first, *rest)

    results = asyncio.run(main())
    assert model.calls == [[1.0], [2.0, 3.0, 4.0, 5.0]]
    assert observed == [(1, 1), (1, 4)]
    assert [r.tolist() for r in results] == [
        [[1.0, -1.0]],
        [[2.0, -2.0]],
        [[3.0, -3.0], [4.0, -4.0]],
        [[5.0, -5.0]],
    ]
    assert not batcher.busy


def test_batches_hold_whole_requests_up_to_the_limit(executor: ThreadPoolExecutor) -> None:
    model = Version(1, gate=True)
    batcher = Batcher(3, executor, lambda served, n: None, alone_rows=0)

    async def main() -> list[np.ndarray]:
        first = asyncio.ensure_future(batcher.predict(model, rows(0.0)))  # type: ignore[arg-type]
        await wait_started(model)
        sizes = ([1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0, 8.0, 9.0], [10.0])
        rest = [
            asyncio.ensure_future(batcher.predict(model, rows(*xs)))  # type: ignore[arg-type]
            for xs in sizes
        ]
        await asyncio.sleep(0.01)
        model.release.release(10)
        return await asyncio.gather(first, *rest)

    results = asyncio.run(main())
    # In arrival order; a request never split; one larger than the limit runs alone.
    assert model.calls == [[0.0], [1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0], [10.0]]
    assert [r[:, 0].tolist() for r in results] == [
        [0.0], [1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0, 8.0, 9.0], [10.0]
    ]  # fmt: skip


def test_a_batch_never_mixes_versions(executor: ThreadPoolExecutor) -> None:
    old, new = Version(1, gate=True), Version(2)
    batcher = Batcher(64, executor, lambda served, n: None, alone_rows=0)

    async def main() -> list[np.ndarray]:
        first = asyncio.ensure_future(batcher.predict(old, rows(0.0)))  # type: ignore[arg-type]
        await wait_started(old)
        # A hot reload swapped the primary while these were arriving.
        plan = [(old, 1.0), (new, 2.0), (old, 3.0), (new, 4.0)]
        rest = [
            asyncio.ensure_future(batcher.predict(v, rows(x)))  # type: ignore[arg-type]
            for v, x in plan
        ]
        await asyncio.sleep(0.01)
        old.release.release(10)
        return await asyncio.gather(first, *rest)

    results = asyncio.run(main())
    assert old.calls == [[0.0], [1.0, 3.0]]
    assert new.calls == [[2.0, 4.0]]
    assert [r[0, 0] for r in results] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_failing_row_fails_only_its_request(executor: ThreadPoolExecutor) -> None:
    model = Version(1, gate=True)
    observed: list[int] = []
    batcher = Batcher(64, executor, lambda served, n: observed.append(n), alone_rows=0)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.predict(model, rows(0.0)))  # type: ignore[arg-type]
        await wait_started(model)
        rest = [
            asyncio.ensure_future(batcher.predict(model, rows(*xs)))  # type: ignore[arg-type]
            for xs in ([1.0], [2.0, -1.0], [3.0])
        ]
        await asyncio.sleep(0.01)
        model.release.release(10)
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(main())
    # The batch failed, then each request ran alone: only the one with the bad row failed.
    assert model.calls == [[0.0], [1.0, 2.0, -1.0, 3.0], [1.0], [2.0, -1.0], [3.0]]
    assert isinstance(results[2], ValueError)
    assert [r[:, 0].tolist() for i, r in enumerate(results) if i != 2] == [[0.0], [1.0], [3.0]]
    assert observed == [1, 1, 1]  # the failed calls are not counted as batches


def test_a_cancelled_request_is_skipped(executor: ThreadPoolExecutor) -> None:
    model = Version(1, gate=True)
    batcher = Batcher(64, executor, lambda served, n: None, alone_rows=0)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.predict(model, rows(0.0)))  # type: ignore[arg-type]
        await wait_started(model)
        gone = asyncio.ensure_future(batcher.predict(model, rows(1.0)))  # type: ignore[arg-type]
        kept = asyncio.ensure_future(batcher.predict(model, rows(2.0)))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        gone.cancel()  # the client went away while waiting
        await asyncio.sleep(0.01)
        model.release.release(10)
        return await asyncio.gather(first, kept)

    results = asyncio.run(main())
    assert model.calls == [[0.0], [2.0]]
    assert [r[0, 0] for r in results] == [0.0, 2.0]


def test_a_small_request_alone_runs_on_the_loop_and_a_crowd_on_the_worker(
    executor: ThreadPoolExecutor,
) -> None:
    model = Version(1)
    observed: list[int] = []
    batcher = Batcher(64, executor, lambda served, n: observed.append(n), alone_rows=2)
    loop_thread = threading.get_ident()

    async def main() -> list[np.ndarray]:
        alone = await batcher.predict(model, rows(1.0))  # type: ignore[arg-type]
        too_big = await batcher.predict(model, rows(2.0, 3.0, 4.0))  # type: ignore[arg-type]
        crowd = await asyncio.gather(  # read in the same pass of the loop
            *(batcher.predict(model, rows(x)) for x in (5.0, 6.0, 7.0))  # type: ignore[arg-type]
        )
        return [alone, too_big, *crowd]

    results = asyncio.run(main())
    assert model.calls == [[1.0], [2.0, 3.0, 4.0], [5.0, 6.0, 7.0]]
    assert model.threads[0] == loop_thread
    assert loop_thread not in model.threads[1:]
    assert observed == [1, 3, 3]
    assert [r[:, 0].tolist() for r in results] == [[1.0], [2.0, 3.0, 4.0], [5.0], [6.0], [7.0]]


def test_max_batch_size_1_turns_batching_off() -> None:
    off = BatchExecutor(1, lambda served, variant, n: None)
    assert off.get("primary") is None
    assert off.get("canary") is None
    off.close()
    on = BatchExecutor(64, lambda served, variant, n: None)
    primary, canary = on.get("primary"), on.get("canary")
    assert primary is not None
    assert canary is not None
    assert primary is not canary
    assert primary.max_rows == 64
    on.close()


def test_variants_are_batched_and_counted_apart() -> None:
    model = Version(1)
    seen: list[tuple[str, int]] = []
    batches = BatchExecutor(64, lambda served, variant, n: seen.append((variant, n)))

    async def main() -> None:
        for variant in ("primary", "canary"):
            batcher = batches.get(variant)
            assert batcher is not None
            await batcher.predict(model, rows(1.0, 2.0))  # type: ignore[arg-type]

    try:
        asyncio.run(main())
    finally:
        batches.close()
    assert seen == [("primary", 2), ("canary", 2)]
