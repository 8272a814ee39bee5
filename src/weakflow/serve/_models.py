"""The versions the server holds (primary, canary, shadow) and the hot reload of the aliases.

Hot reload: a background thread asks the registry where the aliases point every
``[serve] reload_interval`` seconds: the primary's alias and, unless ``[serve.canary]`` pins a
version, the canary alias (``[serve] canary_alias``, which ``weakflow monitor watch`` moves
when it rolls a retrained version out; removing the alias ends the canary). When one moved (a
promotion or a rollback), the new version is loaded completely (model, LFs, schema check)
*before* it is swapped in by one reference assignment. A request reads
:attr:`ModelManager.primary` once and uses that object to the end, so requests in flight finish
on the old version and none sees a half-loaded one. A version whose input schema differs from
the one the server started with is refused (the request schema and the OpenAPI document are
built at start-up): restart the server to serve it.

Canary routing is sticky: the bucket is a hash of the client key (``X-Client-Key``, else the
request id), the same in every worker and every restart (blake2b, not Python's salted
``hash``), so one client always sees the same version while the canary runs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from weakflow.errors import ConfigError, ModelNotFoundError
from weakflow.pipeline import Project
from weakflow.registry import Registry
from weakflow.serve._fastpath import TOLERANCE, TextPredictor, compile_text_predictor, verify
from weakflow.serve._lfs import LFSet, load_lfs
from weakflow.serve._schemas import InputSchema

__all__ = ["LoadedVersion", "ModelManager", "bucket"]

log = logging.getLogger("weakflow.serve")

#: Canary shares are set in hundredths of a percent.
BUCKETS = 10_000
#: Loaded versions kept in memory, so a rollback to a recent version swaps instantly.
KEEP_LOADED = 4


def bucket(key: str) -> int:
    """The canary bucket (0..9999) of a client key: stable across processes and restarts."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True, eq=False)
class LoadedVersion:
    """One registered version, ready to predict.

    ``lean`` is the built-in text model's lean ``predict_proba`` (see
    :mod:`weakflow.serve._fastpath`), checked against ``model.predict_proba`` when the version
    was loaded; None serves through ``model.predict_proba``.
    """

    name: str
    version: int
    model: Any
    schema: InputSchema
    label_names: tuple[str, ...]
    lfs: LFSet | None
    lean: TextPredictor | None = field(default=None, repr=False)

    def model_input(self, rows: list[dict[str, Any]]) -> Any:
        """What the model reads: a list of texts (no pandas), or a frame of the features."""
        if self.schema.kind == "text":
            col = self.schema.fields[0]
            return [row[col] for row in rows]
        cols = list(self.schema.feature_columns)
        values = np.array([[row[c] for c in cols] for row in rows], dtype=np.float64)
        return pd.DataFrame(values, columns=cols)

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        if self.lean is not None:
            return self.lean(self.model_input(rows))
        return np.asarray(self.model.predict_proba(self.model_input(rows)), dtype=np.float64)


def _lean_path(model: Any, schema: InputSchema, what: str) -> TextPredictor | None:
    """The lean text path of ``model`` when there is one and it predicts what the model does."""
    if schema.kind != "text":
        return None
    lean = compile_text_predictor(model)
    if lean is None:
        return None
    try:
        worst = verify(model, lean)
    except Exception as exc:  # the model itself fails on a probe: keep to its own path
        log.warning("%s: could not check the lean text path (%s); serving through "
                    "predict_proba.", what, exc)  # fmt: skip
        return None
    if worst > TOLERANCE:
        log.warning(
            "%s: the lean text path differs from predict_proba by %.3g on the probe texts; "
            "serving through predict_proba.", what, worst,
        )  # fmt: skip
        return None
    log.info("%s: serving the text model through its lean path (checked on probe texts).", what)
    return lean


class ModelManager:
    """Loads versions from the registry and keeps the primary in step with its alias.

    Parameters
    ----------
    registry : Registry
    project : Project
    alias : str
        The alias whose version is the primary.
    schema : InputSchema
        The schema every version must have (the project's, checked against each lineage).
    on_change : callable, optional
        Called with ``(variant, version)`` whenever a variant's version is set.
    """

    def __init__(
        self,
        registry: Registry,
        project: Project,
        alias: str,
        schema: InputSchema,
        *,
        on_change: Callable[[str, int], None] | None = None,
    ) -> None:
        self.registry = registry
        self.project = project
        self.name = project.config.project.name
        self.alias = alias
        self.schema = schema
        self._on_change = on_change or (lambda variant, version: None)
        self._cache: OrderedDict[int, LoadedVersion] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        serve = project.config.serve
        self.primary: LoadedVersion | None = None
        self.canary: LoadedVersion | None = None
        percent = serve.canary_percent if serve.canary is None else serve.canary.percent
        self.canary_cut = round(percent * 100)
        #: The alias the canary follows; None when a version is pinned or canaries are off.
        self.canary_alias = (serve.canary_alias or None) if serve.canary is None else None
        self._canary_failing = False
        self.shadow: LoadedVersion | None = None

    # -- loading -----------------------------------------------------------------------------
    def load(self, version: int) -> LoadedVersion:
        """Load ``version`` (model, LFs), checking it reads the fields the server accepts."""
        cached = self._cache.get(version)
        if cached is not None:
            self._cache.move_to_end(version)
            return cached
        info = self.registry.get(self.name, version)
        if info.status == "archived":
            raise ModelNotFoundError(
                f"{self.name} v{version} is archived and cannot be served; pick another version."
            )
        config = info.lineage.get("config") or self.project.config.to_dict()
        schema = InputSchema.from_config(config)
        if schema.fields != self.schema.fields or schema.kind != self.schema.kind:
            raise ConfigError(
                f"{self.name} v{version} reads {schema.describe()}, but this server accepts "
                f"{self.schema.describe()} (from weakflow.toml). Restart `weakflow serve` with "
                "a configuration that matches the version."
            )
        model = self.registry.load_model(self.name, version)
        names = tuple(getattr(model, "label_names", None) or schema.label_names)
        if names != self.schema.label_names:
            raise ConfigError(
                f"{self.name} v{version} predicts classes {list(names)}, but weakflow.toml has "
                f"label_names {list(self.schema.label_names)}; serve versions of one task."
            )
        lfs = load_lfs(info.lineage, self.project, label=f"{self.name}_v{version}", k=len(names))
        lean = _lean_path(model, schema, f"{self.name} v{version}")
        loaded = LoadedVersion(self.name, version, model, schema, names, lfs, lean)
        self._cache[version] = loaded
        while len(self._cache) > KEEP_LOADED:
            self._cache.popitem(last=False)
        return loaded

    def start(self) -> None:
        """Load the primary (where the alias points), the canary and the shadow."""
        version = self.registry.alias_version(self.name, self.alias)
        if version is None:
            raise ModelNotFoundError(
                f"Model {self.name!r} has no alias {self.alias!r}. Promote a version first: "
                f"weakflow models promote {self.name} VERSION --alias {self.alias}"
            )
        self._set("primary", self.load(version))
        serve = self.project.config.serve
        if serve.canary is not None:
            self._set("canary", self.load(serve.canary.version))
        else:
            self._follow_canary()
        if serve.shadow is not None:
            self._set("shadow", self.load(serve.shadow.version))

    def _set(self, variant: str, loaded: LoadedVersion | None) -> None:
        setattr(self, variant, loaded)  # one reference assignment: the atomic swap
        self._on_change(variant, 0 if loaded is None else loaded.version)

    def _follow_canary(self) -> bool:
        """Point the canary where its alias does (none when it is unset or is the primary)."""
        if self.canary_alias is None:
            return False
        version = self.registry.alias_version(self.name, self.canary_alias)
        primary, current = self.primary, self.canary
        if version is not None and primary is not None and version == primary.version:
            version = None  # a canary of the primary itself is no canary
        if (None if current is None else current.version) == version:
            return False
        loaded = None if version is None else self.load(version)
        self._set("canary", loaded)
        if loaded is None:
            log.info("%s@%s ended: every client gets the primary.", self.name, self.canary_alias)
        else:
            log.info(
                "%s@%s: v%s now gets %.4g%% of clients.",
                self.name, self.canary_alias, loaded.version, self.canary_cut / 100,
            )  # fmt: skip
        return True

    def primary_or_raise(self) -> LoadedVersion:
        primary = self.primary
        if primary is None:
            raise RuntimeError("No model is loaded yet.")
        return primary

    def choose(self, key: str) -> tuple[LoadedVersion, str]:
        """The version for a request with this client key, and its variant name."""
        primary = self.primary_or_raise()
        canary = self.canary
        if canary is not None and bucket(key) < self.canary_cut:
            return canary, "canary"
        return primary, "primary"

    # -- hot reload --------------------------------------------------------------------------
    def poll_once(self) -> bool:
        """Follow the aliases once; True when the primary or the canary changed."""
        moved = self._poll_primary()
        try:
            moved = self._follow_canary() or moved
            self._canary_failing = False
        except Exception as exc:  # a canary that fails to load must not touch the primary
            if not self._canary_failing:
                log.error("Following %s@%s failed: %s", self.name, self.canary_alias, exc)
                self._canary_failing = True
        return moved

    def _poll_primary(self) -> bool:
        try:
            version = self.registry.alias_version(self.name, self.alias)
            current = self.primary
            if version is None or (current is not None and current.version == version):
                if version is None and not self._failing:
                    log.warning(
                        "The alias %s@%s was removed; still serving v%s.",
                        self.name, self.alias, None if current is None else current.version,
                    )  # fmt: skip
                    self._failing = True
                return False
            loaded = self.load(version)
        except Exception as exc:  # the database, the artifact, the LFs: never kill the poller
            if not self._failing:
                log.error("Hot reload of %s@%s failed: %s", self.name, self.alias, exc)
                self._failing = True
            return False
        before = None if current is None else current.version
        self._set("primary", loaded)
        self._failing = False
        log.info("%s@%s moved: now serving v%s (was v%s).", self.name, self.alias, version, before)
        return True

    def start_polling(self, interval: float, on_reload: Callable[[], None]) -> None:
        def run() -> None:
            while not self._stop.wait(interval):
                if self.poll_once():
                    on_reload()

        self._thread = threading.Thread(target=run, name="weakflow-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
