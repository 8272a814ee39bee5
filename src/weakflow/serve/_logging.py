"""The prediction log: every served prediction, written to the store off the request path.

A request only appends its records to an in-memory buffer (one lock, no I/O). A background
thread takes the buffer every ``[serve] log_flush_interval`` seconds, or as soon as it holds
``log_batch_size`` records, and does the slow parts there: the LF votes (one vectorized
``apply_lfs`` per batch instead of one per request), PII redaction of the inputs, and one
``INSERT`` per batch.

Logging never fails a request. The buffer is bounded: when it is full (the database is slower
than the traffic), new records are dropped and counted. A batch the database refuses (down,
disk full) is dropped and counted too, and the failure is logged once per failure burst, not
once per batch. Only the model's input fields are stored, each text redacted when
``[serve] redact_pii`` is on, so raw personal data never reaches the store; a text the
redactor cannot process is stored as ``<REDACTION_FAILED>``, never as it came, and the
``X-Client-Key`` is stored as a digest (it is often a user id or an email). Shutdown drains the
buffer (``close``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from weakflow.data import redact_pii
from weakflow.errors import StoreError
from weakflow.store import Database, subject_digest, write_predictions

if TYPE_CHECKING:
    from weakflow.serve._lfs import LFSet
    from weakflow.serve._metrics import ServeMetrics
    from weakflow.serve._models import LoadedVersion

__all__ = ["LogRecord", "PredictionLog", "client_key_digest"]

log = logging.getLogger("weakflow.serve")

REDACTION_FAILED = "<REDACTION_FAILED>"


def client_key_digest(key: str) -> str:
    """How an ``X-Client-Key`` is stored when PII is redacted: same key, same digest."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"blake2b:{digest}"


@dataclass(slots=True)
class LogRecord:
    """One prediction as the request saw it (raw inputs: redacted only when written)."""

    id: str
    created_at: dt.datetime
    served: LoadedVersion
    variant: str
    row: dict[str, Any]
    label: int
    probabilities: list[float]
    latency_ms: float
    client_key: str | None
    subject_id: str | None
    lf_votes: list[int] | None = None
    shadow_of: str | None = None


class PredictionLog:
    """A bounded buffer of prediction records and the thread that writes them.

    Parameters
    ----------
    db : Database
    metrics : ServeMetrics
    batch_size, flush_interval : int, float
        Write when this many records wait, or this many seconds after the last write.
    lf_votes : bool
        Compute the LF votes of records that have none (``[serve] lf_votes``).
    redact : bool
        Redact PII in text inputs before they are stored (``[serve] redact_pii``).
    pii_region : str
        Default phone-number region of the redactor (``[data] pii_region``).
    max_pending : int
        Records held in memory at most; beyond it new records are dropped and counted.
    """

    def __init__(
        self,
        db: Database,
        metrics: ServeMetrics,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        lf_votes: bool = True,
        redact: bool = True,
        pii_region: str = "US",
        max_pending: int | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.lf_votes = lf_votes
        self.redact = redact
        self.pii_region = pii_region
        self.max_pending = max_pending or max(100_000, 20 * batch_size)
        self._cond = threading.Condition()
        self._buffer: list[LogRecord] = []
        self._submitted = 0
        self._done = 0
        self._flush_requested = False
        self._closing = False
        self._failing = False
        self._lf_failing = False
        self._thread = threading.Thread(target=self._run, name="weakflow-prediction-log")
        self._thread.daemon = True
        self._thread.start()

    # -- request side ----------------------------------------------------------------------------
    def submit(self, records: list[LogRecord]) -> None:
        """Queue records for writing; drops (and counts) them when the buffer is full."""
        with self._cond:
            if self._closing or len(self._buffer) + len(records) > self.max_pending:
                self.metrics.log_dropped.labels("queue_full").inc(len(records))
                return
            self._buffer.extend(records)
            self._submitted += len(records)
            if len(self._buffer) >= self.batch_size:
                self._cond.notify_all()

    @property
    def pending(self) -> bool:
        """Whether records submitted so far are not all processed yet."""
        return self._done < self._submitted

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything submitted so far; False when ``timeout`` passed first."""
        with self._cond:
            target = self._submitted
            if self._done >= target:
                return True
            self._flush_requested = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting records, write what is buffered, stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- writer side -----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                if (
                    len(self._buffer) < self.batch_size
                    and not self._flush_requested
                    and not self._closing
                ):
                    self._cond.wait(self.flush_interval)
                batch, self._buffer = self._buffer, []
                self._flush_requested = False
                closing = self._closing
            if batch:
                for start in range(0, len(batch), self.batch_size):
                    chunk = batch[start : start + self.batch_size]
                    try:
                        self._write(self._rows(chunk))
                    except Exception as exc:  # a bug here must not stop the log
                        self.metrics.log_failures.inc()
                        self.metrics.log_dropped.labels("error").inc(len(chunk))
                        log.exception("Preparing %d prediction records failed: %s", len(chunk), exc)
                with self._cond:
                    self._done += len(batch)
                    self._cond.notify_all()
            elif closing:
                return

    def _rows(self, records: list[LogRecord]) -> list[dict[str, Any]]:
        if self.lf_votes:
            self._add_votes(records)
        inputs = self._inputs(records)
        return [
            {
                "id": r.id,
                "created_at": r.created_at,
                "model_name": r.served.name,
                "model_version": r.served.version,
                "variant": r.variant,
                "inputs": inp,
                "lf_votes": r.lf_votes,
                "label": r.label,
                "probabilities": r.probabilities,
                "latency_ms": r.latency_ms,
                "client_key": self._client_key(r.client_key),
                "subject_id": self._subject(r.subject_id),
            }
            for r, inp in zip(records, inputs, strict=True)
        ]

    def _subject(self, subject_id: str | None) -> str | None:
        """The subject id as stored: a digest when redacting (erasure recomputes it)."""
        if subject_id is None or not self.redact:
            return subject_id
        return subject_digest(subject_id)

    def _client_key(self, key: str | None) -> str | None:
        """The client key as stored: a digest when redacting (it may be an email, a user id)."""
        if key is None or not self.redact:
            return key
        return client_key_digest(key)

    def _add_votes(self, records: list[LogRecord]) -> None:
        groups: dict[LFSet, list[LogRecord]] = defaultdict(list)
        for r in records:
            if r.lf_votes is None and r.served.lfs is not None:
                groups[r.served.lfs].append(r)
        for lfs, group in groups.items():
            try:
                votes = lfs.votes([r.row for r in group]).tolist()
            except Exception as exc:  # a broken LF must not lose the predictions
                self.metrics.lf_errors.inc()
                if not self._lf_failing:
                    log.warning("LF votes could not be computed (logged without them): %s", exc)
                    self._lf_failing = True
                continue
            self._lf_failing = False
            for r, v in zip(group, votes, strict=True):
                r.lf_votes = v

    def _inputs(self, records: list[LogRecord]) -> list[dict[str, Any]]:
        """The model's fields of each row, texts redacted (the raw text is never stored)."""
        out: list[dict[str, Any]] = []
        texts: list[tuple[int, str, str]] = []
        for i, r in enumerate(records):
            inp = {f: r.row.get(f) for f in r.served.schema.fields}
            if r.shadow_of is not None:
                inp["shadow_of"] = r.shadow_of
            out.append(inp)
            if self.redact and r.served.schema.kind == "text":
                col = r.served.schema.fields[0]
                value = inp[col]
                if isinstance(value, str):
                    texts.append((i, col, value))
        if texts:
            for (i, col, _), clean in zip(texts, self._redact([t for *_, t in texts]), strict=True):
                out[i][col] = clean
        return out

    def _redact(self, texts: list[str]) -> list[str]:
        try:
            cleaned = redact_pii(pd.Series(texts, dtype=object), region=self.pii_region)
            return [str(t) for t in cleaned]
        except Exception:
            pass
        out = []
        for t in texts:  # one text broke the batch: redact one by one, never store it raw
            try:
                cleaned = redact_pii(pd.Series([t], dtype=object), region=self.pii_region)
                out.append(str(cleaned.iloc[0]))
            except Exception:
                out.append(REDACTION_FAILED)
        return out

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            write_predictions(self.db, rows)
        except StoreError as exc:  # unreachable, locked, disk full: the whole batch is lost
            self._failed(len(rows), exc)
            return
        except Exception:  # a row the database refuses: keep the others
            if len(rows) == 1:
                self._failed(1, None)
                return
            for row in rows:
                self._write([row])
            return
        self.metrics.log_written.inc(len(rows))
        if self._failing:
            log.warning("The prediction log is written again.")
            self._failing = False

    def _failed(self, n: int, exc: Exception | None) -> None:
        self.metrics.log_failures.inc()
        self.metrics.log_dropped.labels("write_failed").inc(n)
        if not self._failing:
            why = exc if exc is not None else "the database refused a record"
            log.error(
                "Writing the prediction log failed (%s); %d records dropped. Requests are "
                "unaffected; further failures are counted in /metrics "
                "(weakflow_prediction_log_dropped_total) until writing works again.", why, n,
            )  # fmt: skip
            self._failing = True
