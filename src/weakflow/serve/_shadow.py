"""Shadow traffic: a copy of every request goes to another version, after the response is built.

The shadow version runs on a background thread, never on the request path (the copies that
queue up while it works are predicted together, in one vectorized call), and its outputs
only reach the prediction log (variant ``shadow``, with ``inputs.shadow_of`` = the id of the
prediction that was returned), so comparing it with the live version is a join on that id. Its
queue is bounded: when the shadow cannot keep up, requests are not copied (counted in
``weakflow_shadow_dropped_total``) rather than slowing anything down.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weakflow.serve._logging import LogRecord

if TYPE_CHECKING:
    from weakflow.serve._logging import PredictionLog
    from weakflow.serve._metrics import ServeMetrics
    from weakflow.serve._models import ModelManager

__all__ = ["ShadowRunner"]

log = logging.getLogger("weakflow.serve")

#: Request copies predicted together at most (the shadow batches what queued up meanwhile).
BATCH = 256


@dataclass(frozen=True, slots=True)
class _Job:
    rows: list[dict[str, Any]]
    ids: list[str]
    subject_ids: list[str | None]
    client_key: str | None
    created_at: dt.datetime


class ShadowRunner:
    """Runs the shadow version on copies of requests, in order, on one thread."""

    def __init__(
        self,
        manager: ModelManager,
        log_: PredictionLog | None,
        metrics: ServeMetrics,
        *,
        max_pending: int = 1000,
    ) -> None:
        self.manager = manager
        self.log = log_
        self.metrics = metrics
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_pending)
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="weakflow-shadow", daemon=True)
        self._thread.start()

    def submit(
        self,
        rows: list[dict[str, Any]],
        ids: list[str],
        subject_ids: list[str | None],
        client_key: str | None,
        created_at: dt.datetime,
    ) -> None:
        try:
            self._queue.put_nowait(_Job(rows, ids, subject_ids, client_key, created_at))
        except queue.Full:
            self.metrics.shadow_dropped.inc()

    def drain(self, timeout: float = 10.0) -> None:
        """Finish the queued copies (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self, timeout: float = 10.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < BATCH:  # whatever queued up meanwhile: one vectorized predict
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = jobs[-1] is None
            work = [j for j in jobs if j is not None]
            try:
                if work:
                    self._predict(work)
            except Exception as exc:  # the shadow must never take anything down
                if not self._failing:
                    log.error("The shadow version failed on request copies: %s", exc)
                    self._failing = True
            else:
                self._failing = False
            finally:
                for _ in jobs:
                    self._queue.task_done()
            if stop:
                return

    def _predict(self, jobs: list[_Job]) -> None:
        shadow = self.manager.shadow
        if shadow is None:
            return
        rows = [row for job in jobs for row in job.rows]
        start = time.perf_counter()
        proba = shadow.predict_proba(rows)
        latency = (time.perf_counter() - start) * 1e3 / len(jobs)
        labels = proba.argmax(axis=1).tolist()
        names = shadow.label_names
        counts: dict[str, int] = {}
        for lab in labels:
            counts[names[lab]] = counts.get(names[lab], 0) + 1
        self.metrics.count_classes(shadow.version, "shadow", counts)
        if self.log is None:
            return
        records: list[LogRecord] = []
        results = iter(zip(labels, proba.tolist(), strict=True))
        for job in jobs:
            for row, sid, pid in zip(job.rows, job.subject_ids, job.ids, strict=True):
                lab, p = next(results)
                records.append(
                    LogRecord(
                        id=uuid.uuid4().hex, created_at=job.created_at, served=shadow,
                        variant="shadow", row=row, label=lab, probabilities=p,
                        latency_ms=latency, client_key=job.client_key, subject_id=sid,
                        shadow_of=pid,
                    )
                )  # fmt: skip
        self.log.submit(records)
