"""Every error and warning weakflow raises on purpose.

Each error subclasses :class:`WeakflowError` *and* the builtin a caller would already catch, so
``except ValueError`` keeps working around weakflow calls::

    WeakflowError
    ├── SchemaError(ValueError)                      data of the wrong shape, type or values
    │   └── DatasetFormatError                       a folder or file not in the expected format
    ├── NotFittedError(ValueError, AttributeError)   predict before fit
    ├── LabelingFunctionDefinitionError(ValueError)  a bad LF definition, e.g. duplicate names
    ├── LabelingFunctionError(RuntimeError)          an LF raised on a row
    ├── LabelingFunctionOutputError(ValueError)      an LF returned a bad label, type or length
    └── MissingDependencyError(ImportError)          an optional extra is not installed

    WeakflowWarning(UserWarning)
    └── FallbackWarning                              weakflow chose a simpler method than asked

Messages say what happened, show the bad value, and say how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DatasetFormatError",
    "FallbackWarning",
    "LabelingFunctionDefinitionError",
    "LabelingFunctionError",
    "LabelingFunctionOutputError",
    "MissingDependencyError",
    "NotFittedError",
    "SchemaError",
    "WeakflowError",
    "WeakflowWarning",
]


class WeakflowError(Exception):
    """Base class of every error weakflow raises on purpose."""


class SchemaError(WeakflowError, ValueError):
    """Input data has the wrong shape, dtype, columns or values."""


class DatasetFormatError(SchemaError):
    """A dataset folder or file does not follow the expected format (e.g. WRENCH)."""


class NotFittedError(WeakflowError, ValueError, AttributeError):
    """A model was used before ``fit`` was called."""


class LabelingFunctionDefinitionError(WeakflowError, ValueError):
    """A labeling function is defined wrongly (bad name, duplicate name, wrong decorator use)."""


class _LFApplicationError(WeakflowError):
    """Shared fields of the errors raised while applying an LF to data.

    ``lf_name`` is the LF's name, ``row_id`` the id of the offending row (``None`` when the problem
    is not tied to one row, e.g. a vectorized LF returning the wrong length) and ``position`` its
    0-based position in the data.
    """

    def __init__(
        self, message: str, *, lf_name: str, row_id: object = None, position: int | None = None
    ) -> None:
        super().__init__(message)
        self.lf_name = lf_name
        self.row_id = row_id
        self.position = position

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields need an explicit recipe to cross process boundaries (Dask workers).
        return (_rebuild, (type(self), str(self), self.lf_name, self.row_id, self.position))


def _rebuild(
    cls: type[_LFApplicationError],
    message: str,
    lf_name: str,
    row_id: object,
    position: int | None,
) -> _LFApplicationError:
    return cls(message, lf_name=lf_name, row_id=row_id, position=position)


class LabelingFunctionError(_LFApplicationError, RuntimeError):
    """A labeling function raised an exception on a row. The original is the ``__cause__``."""


class LabelingFunctionOutputError(_LFApplicationError, ValueError):
    """An LF returned a label outside ``[-1, k)``, a non-integer, or the wrong number of labels."""


class MissingDependencyError(WeakflowError, ImportError):
    """An optional dependency is missing; the message gives the ``pip install`` command."""


class WeakflowWarning(UserWarning):
    """Base class of weakflow's warnings."""


class FallbackWarning(WeakflowWarning):
    """weakflow fell back to a simpler method than the one asked for, and says why."""
