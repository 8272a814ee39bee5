"""Every error and warning weakflow raises on purpose.

Each error subclasses :class:`WeakflowError` *and* the builtin a caller would already catch, so
``except ValueError`` keeps working around weakflow calls::

    WeakflowError
    ├── SchemaError(ValueError)                      data of the wrong shape, type or values
    │   └── DatasetFormatError                       a folder or file not in the expected format
    ├── DataCheckError(ValueError)                   a data check of severity "error" failed
    ├── ConfigError(ValueError)                      weakflow.toml (or a config value) is wrong
    ├── PipelineError(RuntimeError)                  a step of `weakflow run` failed
    ├── StoreError(OSError)                          an artifact or run record cannot be kept
    ├── ModelNotFoundError(LookupError)              no such registered model, version or alias
    ├── RegistryError(ValueError)                    a registry operation that cannot be done
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

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "DataCheckError",
    "DatasetFormatError",
    "FallbackWarning",
    "LabelingFunctionDefinitionError",
    "LabelingFunctionError",
    "LabelingFunctionOutputError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "NotFittedError",
    "PipelineError",
    "RegistryError",
    "SchemaError",
    "StoreError",
    "WeakflowError",
    "WeakflowWarning",
]


class WeakflowError(Exception):
    """Base class of every error weakflow raises on purpose."""


class SchemaError(WeakflowError, ValueError):
    """Input data has the wrong shape, dtype, columns or values."""


class DatasetFormatError(SchemaError):
    """A dataset folder or file does not follow the expected format (e.g. WRENCH)."""


class ConfigError(WeakflowError, ValueError):
    """A project's configuration is invalid; ``problems`` lists each one by key."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_config_error, (str(self), self.problems))


def _rebuild_config_error(message: str, problems: list[str]) -> ConfigError:
    return ConfigError(message, problems=problems)


class PipelineError(WeakflowError, RuntimeError):
    """A step of ``weakflow run`` failed; ``step`` names it and the message says how to fix it."""

    def __init__(self, message: str, *, step: str) -> None:
        super().__init__(message)
        self.step = step

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_pipeline_error, (str(self), self.step))


def _rebuild_pipeline_error(message: str, step: str) -> PipelineError:
    return PipelineError(message, step=step)


class StoreError(WeakflowError, OSError):
    """Persisting or reading back an artifact or record failed (disk full, corruption, ...)."""


class ModelNotFoundError(WeakflowError, LookupError):
    """No registered model, version or alias by that name; the message lists what exists."""


class RegistryError(WeakflowError, ValueError):
    """A registry operation that cannot be done as asked (archived version, no rollback target)."""


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


class DataCheckError(WeakflowError, ValueError):
    """Data checks of severity ``"error"`` failed; ``results`` holds those ``CheckResult`` objects.

    The message lists every failed check with its file, column and rows (see
    ``weakflow.data.raise_for_errors``).
    """

    def __init__(self, message: str, *, results: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.results: tuple[Any, ...] = tuple(results)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_data_check_error, (str(self), self.results))


def _rebuild_data_check_error(message: str, results: tuple[Any, ...]) -> DataCheckError:
    return DataCheckError(message, results=results)
