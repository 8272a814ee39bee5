"""Privacy: erasing a data subject's records on request (``weakflow privacy erase``).

The prediction log's retention policy (``[privacy] retention_days``) is enforced by the monitor
loop, see :func:`weakflow.monitor.enforce_retention`; PII redaction happens where data enters
(``weakflow.data.redact_pii``, applied by ``weakflow run`` and by the server's log writer).
"""

from weakflow.privacy._erase import Erasure, erase_subject

__all__ = ["Erasure", "erase_subject"]
