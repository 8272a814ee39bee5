"""The Dask engine for ``apply_lfs``: the local engine, run partition by partition on a cluster.

Each task labels one partition with exactly the local engine's code, so results are identical;
only the small integer votes travel back to the caller, never the raw rows of a dask DataFrame.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from weakflow.errors import MissingDependencyError, SchemaError, _LFApplicationError
from weakflow.labeling._lf import LabelingFunction
from weakflow.labeling._progress import progress_bar

__all__ = ["apply_dask"]


def _import_dask() -> tuple[Any, Any]:
    try:
        import dask
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            "engine='dask' needs the Dask extra: pip install 'weakflow[dask]'"
        ) from exc
    return dask, distributed


class _LFBundle:
    """The LFs as one object, scattered to every worker once instead of once per task."""

    def __init__(self, lfs: Sequence[LabelingFunction]) -> None:
        self.lfs = list(lfs)


def _label_partition(
    frame: pd.DataFrame,
    bundle: _LFBundle,
    start: int,
    cardinality: int | None,
    fault_tolerant: bool,
    batch_size: int,
    n_threads: int | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    from weakflow.labeling._apply import apply_local

    if len(frame) == 0:
        return np.empty((0, len(bundle.lfs)), dtype=np.int16), frame.index.to_numpy(), {}
    values, faults = apply_local(
        bundle.lfs,
        frame,
        cardinality=cardinality,
        fault_tolerant=fault_tolerant,
        progress=False,
        batch_size=batch_size,
        n_threads=n_threads,
        start=start,
    )
    return values, frame.index.to_numpy(), faults


def _globalized(exc: _LFApplicationError, client: Any, data: Any, futures: list[Any]) -> Exception:
    """The error with its row position counted from the start of the data, not the partition.

    A dask DataFrame's partition lengths are unknown until read, so they are counted only here,
    on the error path, for the partitions before the failing one.
    """
    part = next(i for i, f in enumerate(futures) if f.status == "error")
    lengths = client.compute(data.partitions[:part].map_partitions(len)).result() if part else []
    offset = int(sum(lengths))
    local = int(exc.position) if exc.position is not None else 0
    message = re.sub(
        rf"\(position {local}\)", f"(position {local + offset}, partition {part})", str(exc)
    )
    return type(exc)(message, lf_name=exc.lf_name, row_id=exc.row_id, position=local + offset)


def _connect(engine: Any, distributed: Any) -> tuple[Any, Any]:
    """The Client to use and what to close afterwards (None when the caller owns the client)."""
    if isinstance(engine, distributed.Client):
        return engine, None
    if engine == "dask":
        workers = max(1, min(4, os.cpu_count() or 1))
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: None still binds 8787 here
        )
        client = distributed.Client(cluster)
        return client, (client, cluster)
    if isinstance(engine, str) and "://" in engine:
        client = distributed.Client(engine)
        return client, (client,)
    raise SchemaError(
        f"engine must be 'local', 'dask', a dask.distributed Client or a scheduler address such "
        f"as 'tcp://127.0.0.1:8786', got {engine!r}."
    )


def apply_dask(
    lfs: Sequence[LabelingFunction],
    data: Any,
    engine: Any,
    *,
    cardinality: int | None,
    fault_tolerant: bool,
    progress: bool,
    batch_size: int,
    n_threads: int | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Label ``data`` on a Dask cluster; returns votes, row ids and fault counts."""
    from weakflow.labeling._apply import _check_frame

    dask, distributed = _import_dask()
    if engine == "local":
        engine = "dask"  # a dask DataFrame asks for the Dask engine by itself
    client, owned = _connect(engine, distributed)
    try:
        bundle = client.scatter(_LFBundle(lfs), broadcast=True)
        args = (cardinality, fault_tolerant, batch_size, n_threads or 1)
        if isinstance(data, pd.DataFrame | pd.Series):
            frame = _check_frame(data)
            n_parts = max(1, min(len(frame), 2 * len(client.scheduler_info()["workers"])))
            bounds = np.linspace(0, len(frame), n_parts + 1).astype(int)
            futures = [
                client.submit(
                    _label_partition,
                    client.scatter(frame.iloc[a:b]),
                    bundle,
                    int(a),
                    *args,
                    pure=False,
                )
                for a, b in itertools.pairwise(bounds)
                if b > a
            ]
        else:
            parts = data.to_delayed()
            tasks = [dask.delayed(_label_partition)(p, bundle, 0, *args) for p in parts]
            futures = client.compute(tasks)
        with progress_bar(
            len(futures), "Applying labeling functions on Dask", enabled=progress, unit="partitions"
        ) as advance:
            for _ in distributed.as_completed(futures):
                advance(1)
        try:
            results = client.gather(futures)
        except _LFApplicationError as exc:
            if isinstance(data, pd.DataFrame | pd.Series) or exc.position is None:
                raise  # positions are already global
            raise _globalized(exc, client, data, futures) from None
    finally:
        for obj in owned or ():
            obj.close()
    if not results:
        raise SchemaError("The data has no partitions: there is nothing to label.")
    values = np.concatenate([r[0] for r in results], axis=0)
    if values.shape[0] == 0:
        raise SchemaError("The data has no rows: there is nothing to label.")
    row_ids = np.concatenate([r[1] for r in results])
    faults = dict.fromkeys((lf.name for lf in lfs), 0)
    for r in results:
        for name, c in r[2].items():
            faults[name] += c
    return values, row_ids, faults
