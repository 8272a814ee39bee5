"""Gold rows from feedback: the logged inputs of each labeled prediction, with its label."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import select

from weakflow.feedback._sources import source_of
from weakflow.store import Database
from weakflow.store._schema import Feedback, Prediction

__all__ = ["feedback_rows"]


def feedback_rows(
    db: Database,
    name: str,
    *,
    label_names: Sequence[str],
    label_column: str = "label",
    id_column: str | None = "id",
    exclude_sources: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per labeled prediction of model ``name`` (its latest label wins).

    Columns: the logged input fields, ``label_column`` (the label *name*, as in the project's
    gold files) and, when given, ``id_column`` (the prediction id, so the rows are traceable
    and never collide with the project's own ids). Shadow predictions are left out: they were
    never shown to anyone. ``exclude_sources``: sources, as
    :func:`~weakflow.feedback.source_of` names them, whose labels are left out (the quarantined
    ones, when building training data).
    """
    query = (
        select(
            Prediction.id, Prediction.inputs, Feedback.label, Feedback.source, Feedback.token_name
        )
        .join(Feedback, Feedback.prediction_id == Prediction.id)
        .where(Prediction.model_name == name, Prediction.variant != "shadow")
        .order_by(Feedback.id)
    )
    with db.transaction() as s:
        rows = s.execute(query).all()
    excluded = set(exclude_sources)
    latest: dict[str, dict[str, object]] = {}
    for pid, inputs, label, source, token_name in rows:
        if not 0 <= int(label) < len(label_names) or source_of(token_name, source) in excluded:
            continue
        row = dict(inputs or {})
        row[label_column] = label_names[int(label)]
        if id_column:
            row[id_column] = f"feedback-{pid}"
        latest[pid] = row
    return pd.DataFrame(list(latest.values()))
