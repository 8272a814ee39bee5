"""UI: the web dashboard and the review queue (``weakflow ui``; ``/ui`` of ``weakflow serve``).

Server-rendered pages for the people who run and oversee a weakflow project: what is serving
and how it does (Overview), the labeling functions (Labeling), the registered versions with
promote and rollback (Models), drift, calibration and slices (Monitoring), and the review queue
where people label the predictions most likely to be wrong, which become gold feedback for the
next run. Reads use the store only; changes need an API token and land in the audit log. See
docs/ui.md.
"""

from weakflow.ui._app import create_ui_app, mount_ui, serve_app_with_ui
from weakflow.ui._context import UIContext, UISettings
from weakflow.ui._review import REASONS, ReviewItem, build_queue, review_queue, vote_analysis

__all__ = [
    "REASONS",
    "ReviewItem",
    "UIContext",
    "UISettings",
    "build_queue",
    "create_ui_app",
    "mount_ui",
    "review_queue",
    "serve_app_with_ui",
    "vote_analysis",
]
