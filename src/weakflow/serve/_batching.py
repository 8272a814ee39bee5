"""Adaptive micro-batching: requests that arrive while the model is busy share one model call.

Why: a one-row ``predict_proba`` costs mostly per-call overhead (scikit-learn's checks, sparse
matrix set-up, the calibrator), not per-row work: on the example's text model one row takes
about as long as eight. When requests arrive one at a time, each runs on its own; under
concurrency, calling the model once for everything that queued up meanwhile serves many rows
for the price of a few, which is what lets one worker keep up with many clients.

How, per variant (``primary``, ``canary``): a request that finds its variant's model idle is
predicted at once (no delay, no timer) on the variant's worker thread, so the event loop keeps
accepting requests meanwhile. Requests that arrive while that call runs wait in a queue; when
it returns, all of them (up to ``[serve] max_batch_size`` rows, whole requests only) go into
the next call as one stacked batch, and each request gets back exactly its own rows. A batch
only holds requests routed to the same version object, so a hot reload never mixes versions in
one call: requests that read the old primary are predicted by the old one, as before.

One exception: a small request (up to :data:`ALONE_ROWS` rows) that is *alone* (the model is
idle and no other request reached the batcher in the same pass of the event loop) is predicted
on the event loop itself. Handing one row to a thread and back costs about 0.15 ms of the
~1 ms a one-row request takes here, and with nothing else in flight there is nothing for the
loop to do meanwhile; requests that arrive during that call are read right after it and are
batched. Under concurrency, requests arrive together and take the worker path.

Every row's prediction is independent of the others in the batch (the model transforms and
scores each row on its own), so batching changes no probability. A batch whose call raises is
retried one request at a time, so a row that breaks the model fails only its own request.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from weakflow.serve._models import LoadedVersion

__all__ = ["ALONE_ROWS", "BatchExecutor", "Batcher"]

#: A request alone with at most this many rows runs on the event loop (about 1 ms at most).
ALONE_ROWS = 8


@dataclass(slots=True)
class _Pending:
    served: LoadedVersion
    rows: list[dict[str, Any]]
    future: asyncio.Future[np.ndarray]


class Batcher:
    """Queues one variant's requests and runs them in batches, one model call at a time.

    Used from the event loop only (the queue needs no lock); the model runs on ``executor``.

    Parameters
    ----------
    max_rows : int
        Rows per model call at most (whole requests: a larger request runs alone).
    executor : ThreadPoolExecutor
        Where the model runs.
    observe : callable
        Called with ``(version, rows)`` after every model call (the batch-size histogram).
    alone_rows : int
        A request alone with at most this many rows runs on the event loop; 0: never.
    """

    def __init__(
        self,
        max_rows: int,
        executor: ThreadPoolExecutor,
        observe: Callable[[LoadedVersion, int], None],
        *,
        alone_rows: int = ALONE_ROWS,
    ) -> None:
        self.max_rows = max_rows
        self.alone_rows = alone_rows
        self._executor = executor
        self._observe = observe
        self._queue: deque[_Pending] = deque()
        self._task: asyncio.Task[None] | None = None
        self._arriving = 0

    @property
    def busy(self) -> bool:
        """Whether a model call of this variant is running (or about to)."""
        return self._task is not None

    async def predict(self, served: LoadedVersion, rows: list[dict[str, Any]]) -> np.ndarray:
        """``served.predict_proba(rows)``, batched with whatever else is waiting."""
        if self._task is None and len(rows) <= self.alone_rows:
            # Idle. Let the other requests read in this pass of the loop get here too: if none
            # did, this one is alone and runs right here.
            self._arriving += 1
            try:
                await asyncio.sleep(0)
            finally:
                self._arriving -= 1
            if self._task is None and self._arriving == 0:
                proba = served.predict_proba(rows)
                self._observe(served, len(rows))
                return proba
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._queue.append(_Pending(served, rows, future))
        if self._task is None:  # idle: run now, and keep running while requests queue up
            self._task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[_Pending]:
        """The next batch: the oldest live request, then later ones of the same version."""
        queue = self._queue
        while queue and queue[0].future.done():  # cancelled while waiting
            queue.popleft()
        if not queue:
            return []
        head = queue.popleft()
        batch = [head]
        n = len(head.rows)
        skipped: list[_Pending] = []
        while queue and n < self.max_rows:
            item = queue[0]
            if item.future.done():
                queue.popleft()
            elif item.served is not head.served:
                skipped.append(queue.popleft())
            elif n + len(item.rows) <= self.max_rows:
                batch.append(queue.popleft())
                n += len(item.rows)
            else:
                break
        queue.extendleft(reversed(skipped))  # other versions keep their place in the line
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        batch: list[_Pending] = []
        try:
            while self._queue:
                batch = self._take()
                if batch:
                    await self._run(loop, batch)
        except BaseException as exc:  # cancelled (shutdown): nobody may wait forever
            error = exc if isinstance(exc, Exception) else RuntimeError("The server is stopping.")
            for item in [*batch, *self._queue]:
                _fail(item, error)
            self._queue.clear()
            raise
        finally:
            self._task = None

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        served = batch[0].served
        rows = batch[0].rows if len(batch) == 1 else [r for item in batch for r in item.rows]
        try:
            proba = await loop.run_in_executor(self._executor, served.predict_proba, rows)
            if len(proba) != len(rows):  # never split a result that does not line up
                raise RuntimeError(f"The model returned {len(proba)} rows for {len(rows)}.")
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            # One request's rows broke the call: find it, and answer the others.
            for item in batch:
                try:
                    one = await loop.run_in_executor(
                        self._executor, served.predict_proba, item.rows
                    )
                except Exception as item_exc:
                    _fail(item, item_exc)
                else:
                    self._observe(served, len(item.rows))
                    _resolve(item, one)
            return
        self._observe(served, len(rows))
        start = 0
        for item in batch:
            end = start + len(item.rows)
            _resolve(item, proba[start:end])
            start = end


def _resolve(item: _Pending, proba: np.ndarray) -> None:
    if not item.future.done():
        item.future.set_result(proba)


def _fail(item: _Pending, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)


def _observe_variant(
    observe: Callable[[LoadedVersion, str, int], None], variant: str, served: LoadedVersion, n: int
) -> None:
    observe(served, variant, n)


class BatchExecutor:
    """The batchers of a server (one per variant) and the threads their model calls run on.

    ``max_rows <= 1`` turns batching off (:meth:`get` returns None): requests then call the
    model themselves, as one call each.
    """

    VARIANTS = ("primary", "canary")

    def __init__(self, max_rows: int, observe: Callable[[LoadedVersion, str, int], None]) -> None:
        self.max_rows = max_rows
        self._executors: list[ThreadPoolExecutor] = []
        self._batchers: dict[str, Batcher] = {}
        if max_rows > 1:
            for variant in self.VARIANTS:
                # One thread per variant: its calls run one at a time, on warm caches.
                executor = ThreadPoolExecutor(1, thread_name_prefix=f"weakflow-{variant}")
                self._executors.append(executor)
                self._batchers[variant] = Batcher(
                    max_rows, executor, functools.partial(_observe_variant, observe, variant)
                )

    def get(self, variant: str) -> Batcher | None:
        return self._batchers.get(variant)

    def close(self) -> None:
        """Wait for the model calls in flight (the server has stopped taking requests)."""
        for executor in self._executors:
            executor.shutdown(wait=True)
