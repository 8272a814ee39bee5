"""Labeling functions: the :class:`LabelingFunction` class and the ``@labeling_function`` decorator.

The conventions are Snorkel's, so that users' LFs port unchanged: ``ABSTAIN = -1``, classes
``0..k-1``, a row-wise LF takes one row and returns a label, ``resources`` are passed as keyword
arguments, ``pre`` is a list of preprocessors applied to the row first.

weakflow adds *vectorized* LFs (``vectorized=True``): they take a whole ``pandas.DataFrame`` batch
and return an integer array with one label per row, which is how the fast builders
(:func:`keyword_lf`, :func:`regex_lf`, ...) are written.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from weakflow.errors import LabelingFunctionDefinitionError

if TYPE_CHECKING:
    from weakflow.labeling._batch import Batch

__all__ = ["LabelingFunction", "as_labeling_function", "labeling_function"]

Preprocessor = Callable[[Any], Any]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise LabelingFunctionDefinitionError(
            f"A labeling function needs a non-empty string name, got {name!r}."
        )
    return name


class LabelingFunction:
    """A named rule that votes a class label or abstains (``-1``) on each row.

    Parameters
    ----------
    name : str
        Unique name; it becomes the LF's column name in the label matrix.
    f : callable
        Row-wise: ``f(row, **resources) -> int``. Vectorized: ``f(frame, **resources)`` returning
        an integer array-like with one label per row of ``frame``.
    resources : mapping, optional
        Extra keyword arguments for ``f`` (lookup tables, models), as in Snorkel.
    pre : sequence of callables, optional
        Preprocessors applied in order before ``f``. Row-wise: each takes a
        :class:`~weakflow.labeling.MutableRow` and returns a row (it may add fields in place).
        Vectorized: each takes the DataFrame batch and returns a DataFrame.
    vectorized : bool
        Whether ``f`` takes a DataFrame batch instead of a single row.

    Examples
    --------
    >>> lf = LabelingFunction("has_link", lambda x: 1 if "http" in x.text else -1)
    >>> lf.name, lf.vectorized
    ('has_link', False)
    """

    #: Short description of the LF's kind, shown by ``lf_summary``.
    kind: str = "python"

    def __init__(
        self,
        name: str,
        f: Callable[..., Any],
        *,
        resources: Mapping[str, Any] | None = None,
        pre: Sequence[Preprocessor] | None = None,
        vectorized: bool = False,
    ) -> None:
        self.name = _check_name(name)
        if not callable(f):
            raise LabelingFunctionDefinitionError(
                f"Labeling function {name!r}: f must be callable, got {type(f).__name__}."
            )
        self.f = f
        self.resources: dict[str, Any] = dict(resources or {})
        self.pre: list[Preprocessor] = list(pre or [])
        for p in self.pre:
            if not callable(p):
                raise LabelingFunctionDefinitionError(
                    f"Labeling function {name!r}: preprocessor {p!r} is not callable."
                )
        self.vectorized = bool(vectorized)

    # -- application -------------------------------------------------------------------------
    def __call__(self, x: Any) -> Any:
        """Label one row (row-wise LF) or one DataFrame batch (vectorized LF)."""
        for p in self.pre:
            x = p(x)
        return self.f(x, **self.resources)

    def apply_batch(self, batch: Batch) -> Any:
        """Labels for every row of ``batch`` (vectorized LFs only); overridden by the builders."""
        return self(batch.frame if not self.pre else batch.frame.copy())

    @property
    def fields(self) -> tuple[str, ...] | None:
        """The columns this LF reads, when known (builders know; Python LFs do not)."""
        return None

    # -- identity ----------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """Source code of the LF (best effort), recorded for provenance."""
        try:
            return inspect.getsource(self.f)
        except (OSError, TypeError):
            return repr(self)

    @property
    def source_hash(self) -> str:
        """sha256 of :attr:`source`; changes whenever the LF's code or parameters change."""
        return hashlib.sha256(self.source.encode()).hexdigest()

    def __repr__(self) -> str:
        style = "vectorized" if self.vectorized else "row-wise"
        pre = f", pre={[getattr(p, '__name__', repr(p)) for p in self.pre]}" if self.pre else ""
        return f"{type(self).__name__}(name={self.name!r}, {style}{pre})"


@overload
def labeling_function(
    name: Callable[..., Any],
) -> LabelingFunction: ...


@overload
def labeling_function(
    name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Preprocessor] | None = None,
    vectorized: bool = False,
) -> Callable[[Callable[..., Any]], LabelingFunction]: ...


def labeling_function(
    name: str | Callable[..., Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Preprocessor] | None = None,
    vectorized: bool = False,
) -> LabelingFunction | Callable[[Callable[..., Any]], LabelingFunction]:
    """Turn a function into a :class:`LabelingFunction` (name defaults to the function's name).

    Works as ``@labeling_function()`` (Snorkel's spelling), ``@labeling_function`` and with
    arguments: ``@labeling_function(name="x", resources={...}, pre=[...], vectorized=True)``.

    Examples
    --------
    >>> from weakflow import ABSTAIN
    >>> @labeling_function()
    ... def lf_check_out(x):
    ...     return 1 if "check out" in x.text.lower() else ABSTAIN
    >>> lf_check_out.name
    'lf_check_out'
    >>> import numpy as np
    >>> @labeling_function(vectorized=True)
    ... def lf_short(df):
    ...     return np.where(df.text.str.split().str.len() < 5, 0, ABSTAIN)
    >>> lf_short.vectorized
    True
    """
    if callable(name) and not isinstance(name, str):
        return LabelingFunction(name.__name__, name)
    if name is not None and not isinstance(name, str):
        raise LabelingFunctionDefinitionError(
            f"labeling_function(name=...) must be a string, got {name!r}."
        )

    def decorate(f: Callable[..., Any]) -> LabelingFunction:
        if not callable(f):
            raise LabelingFunctionDefinitionError(
                f"@labeling_function decorates a function, got {type(f).__name__}."
            )
        return LabelingFunction(
            name or f.__name__, f, resources=resources, pre=pre, vectorized=vectorized
        )

    return decorate


class _SnorkelLF(LabelingFunction):
    """A ``snorkel.labeling.LabelingFunction`` run as a row-wise LF.

    Snorkel LFs get a ``pandas.Series`` per row, exactly as Snorkel's PandasLFApplier gives them,
    so their preprocessors and resources behave as they did in Snorkel.
    """

    kind = "snorkel"

    def __init__(self, lf: Any) -> None:
        super().__init__(str(lf.name), lf)
        self.wants_series = True

    @property
    def source(self) -> str:
        f = getattr(self.f, "_f", self.f)
        try:
            return inspect.getsource(f)
        except (OSError, TypeError):
            return repr(self.f)


def _is_snorkel_lf(obj: object) -> bool:
    mro = [f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__]
    return any(n.startswith("snorkel.labeling.lf") and n.endswith("LabelingFunction") for n in mro)


def as_labeling_function(obj: object) -> LabelingFunction:
    """Accept a weakflow LF or a Snorkel LF object; reject anything else with the fix."""
    if isinstance(obj, LabelingFunction):
        return obj
    if _is_snorkel_lf(obj):
        return _SnorkelLF(obj)
    if callable(obj):
        fname = getattr(obj, "__name__", repr(obj))
        raise LabelingFunctionDefinitionError(
            f"{fname} is a plain function, not a labeling function. Decorate it with "
            "@labeling_function() (or @labeling_function(vectorized=True) for batch functions)."
        )
    raise LabelingFunctionDefinitionError(
        f"Expected a labeling function, got {type(obj).__name__}: {obj!r}."
    )
