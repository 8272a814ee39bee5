"""Content-addressed artifacts on local disk: bytes, arrays, JSON and models by sha256.

Every artifact is stored under its own hash (``objects/ab/cdef...``), so the same content is
stored once, a name can never point at changed bytes, and corruption is detected on read.
Writes go to a temporary file in the same folder and are renamed into place: a killed process
leaves no half-written artifact. Models are saved with skops (a non-executable format) and only
loaded after their hash checks out, with the types recorded when weakflow saved them: weakflow
never unpickles anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weakflow.errors import StoreError

__all__ = ["ArtifactStore", "atomic_write", "sha256_bytes"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process umask, read once at import (reading it means briefly setting it).
_UMASK = _current_umask()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (all or nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Modules whose types a saved model may contain (skops instantiates nothing else).
_TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "weakflow.", "builtins.", "collections.")


class ArtifactStore:
    """Artifacts under ``root/objects``, addressed by the sha256 of their bytes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / digest[2:]

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (once) and return its sha256."""
        digest = sha256_bytes(data)
        path = self._path(digest)
        if not path.exists():
            try:
                atomic_write(path, data)
            except OSError as exc:
                raise StoreError(
                    f"Could not write an artifact to {path.parent}: {exc}. Free some disk space "
                    "or point the project's store elsewhere; nothing was half-written."
                ) from exc
        return digest

    def get_bytes(self, digest: str) -> bytes:
        """The bytes stored under ``digest``; a StoreError when missing or corrupted."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"No artifact {digest[:12]}... in {self.root}.") from None
        if sha256_bytes(data) != digest:
            raise StoreError(
                f"Artifact {digest[:12]}... in {self.root} is corrupted (its content no longer "
                "matches its hash). Delete it and re-run to rebuild it."
            )
        return data

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    # -- typed helpers -------------------------------------------------------------------------
    def put_json(self, obj: Any) -> str:
        return self.put_bytes(json.dumps(obj, sort_keys=True, default=_json_default).encode())

    def get_json(self, digest: str) -> Any:
        return json.loads(self.get_bytes(digest))

    def put_array(self, arr: npt.ArrayLike) -> str:
        buf = io.BytesIO()
        np.save(buf, np.asarray(arr), allow_pickle=False)
        return self.put_bytes(buf.getvalue())

    def get_array(self, digest: str) -> np.ndarray:
        arr: np.ndarray = np.load(io.BytesIO(self.get_bytes(digest)), allow_pickle=False)
        return arr

    def put_model(self, model: Any) -> str:
        """Save a scikit-learn model with skops; returns the artifact hash."""
        import skops.io as sio

        data = sio.dumps(model)
        types = sorted(sio.get_untrusted_types(data=data))
        envelope = json.dumps({"format": "skops", "types": types}).encode() + b"\n" + data
        return self.put_bytes(envelope)

    def get_model(self, digest: str) -> Any:
        """Load a model weakflow saved (hash verified first; only its recorded types trusted)."""
        import skops.io as sio

        header, _, data = self.get_bytes(digest).partition(b"\n")
        meta = json.loads(header)
        if meta.get("format") != "skops":
            raise StoreError(f"Artifact {digest[:12]}... is not a model weakflow saved.")
        types = list(meta["types"])
        foreign = [t for t in types if not t.startswith(_TRUSTED_MODULES)]
        if foreign or sorted(sio.get_untrusted_types(data=data)) != sorted(types):
            raise StoreError(
                f"Model artifact {digest[:12]}... needs types weakflow does not load "
                f"({foreign or 'a changed type list'}); refusing to load it."
            )
        return sio.loads(data, trusted=types)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
