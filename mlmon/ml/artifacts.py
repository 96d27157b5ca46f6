"""Model artifacts: skops files, checked against their recorded sha256 before they are loaded.

skops never unpickles; it rebuilds objects from a schema and refuses types it does not trust.
We trust its defaults plus types from sklearn, numpy and scipy (what a fitted pipeline is made
of), and refuse everything else, including names in those packages that touch files, so an
artifact swapped in behind the registry's back can neither run code nor read or write files.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any, MutableMapping

from mlmon.errors import NodeError

__all__ = [
    "ArtifactError",
    "ArtifactMissingError",
    "ArtifactTamperedError",
    "UntrustedArtifactError",
    "TRUSTED_PREFIXES",
    "sha256_of",
    "save_model",
    "load_model",
]

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
# Plain containers and values skops does not trust by default but that carry no behaviour.
TRUSTED_BUILTINS = frozenset(
    {
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.complex",
        "builtins.dict",
        "builtins.frozenset",
        "builtins.NoneType",
        "builtins.slice",
        "builtins.range",
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "collections.deque",
    }
)
# Names under the trusted packages that read, write or fetch: refused even there.
_REFUSED_PARTS = (
    "load",
    "save",
    "fromfile",
    "tofile",
    "memmap",
    "genfromtxt",
    "npyio",
    "ctypeslib",
    "f2py",
    "distutils",
    "testing",
    "scipy.io",
    "sklearn.datasets",
    "sklearn.externals",
    "open",
    "system",
    "exec",
    "eval",
)
# Held while skops is imported: the estimator list is swapped out meanwhile, and a second
# thread importing at the same time must neither see the swap nor restore the stand-in.
_IMPORTING = threading.Lock()


def _skops_io() -> ModuleType:
    """skops.io, imported on first use (about a third of a second: an evaluation of logged
    predictions never needs it) and without its list of every scikit-learn estimator.

    On import skops lists all estimators with `sklearn.utils.all_estimators`, which imports
    every scikit-learn module: most of a second for each command that touches a model. The list
    only widens skops' default trust, and mlmon decides trust itself (`_is_trusted` accepts every
    estimator under `sklearn.`), so the same artifacts load and the same ones are refused.
    """
    with _IMPORTING:
        if "skops.io" in sys.modules:
            return sys.modules["skops.io"]
        import sklearn.utils

        listed = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            import skops.io
        finally:
            sklearn.utils.all_estimators = listed
        return skops.io


class ArtifactError(NodeError):
    """A model artifact cannot be used; the nodes needing that model fail, the build goes on."""


class ArtifactMissingError(ArtifactError):
    """The artifact file recorded for a model version is not there."""


class ArtifactTamperedError(ArtifactError):
    """The artifact's sha256 differs from the one recorded when it was trained."""


class UntrustedArtifactError(ArtifactError):
    """The artifact holds types mlmon refuses to rebuild."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pipeline_of(model: Any) -> Any:
    # A TrainedModel carries its pipeline; anything else is taken as the estimator itself.
    return getattr(model, "pipeline", model)


def save_model(model: Any, path: Path | str) -> str:
    """Write the model (a TrainedModel or a fitted estimator) as a skops file; its sha256 hex.

    The file appears atomically: a reader never sees half an artifact under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _skops_io().dumps(_pipeline_of(model), compression=zipfile.ZIP_DEFLATED)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256_of(data)


def _is_trusted(type_name: str) -> bool:
    if type_name in TRUSTED_BUILTINS:
        return True
    if not type_name.startswith(TRUSTED_PREFIXES):
        return False
    lowered = type_name.lower()
    return not any(part in lowered for part in _REFUSED_PARTS)


def load_model(path: Path | str, expected_sha256: str, fitted: MutableMapping[str, Any] | None = None) -> Any:
    """The fitted pipeline in `path`, once its bytes match `expected_sha256`.

    The bytes are read once, hashed, and loaded from memory, so the file cannot change between
    the check and the load. `fitted` maps the sha256 of artifacts already rebuilt (or trained)
    in this command to their pipelines: bytes that hash the same are not rebuilt again.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactMissingError(
            f"model artifact {path} does not exist", hint="retrain the model with --full-refresh"
        ) from None
    except OSError as exc:
        raise ArtifactError(f"cannot read model artifact {path}: {exc}") from exc
    actual = sha256_of(data)
    expected = (expected_sha256 or "").strip().lower()
    if actual != expected:
        raise ArtifactTamperedError(
            f"model artifact {path} was modified after training: sha256 is {actual}, "
            f"the registry recorded {expected or '(nothing)'}",
            hint="refusing to load it; restore the file or retrain the model with --full-refresh",
        )
    if fitted is not None and actual in fitted:
        return fitted[actual]
    try:
        untrusted = _skops_io().get_untrusted_types(data=data)
    except Exception as exc:  # skops raises a range of errors on a file that is not its format
        raise ArtifactError(f"model artifact {path} is not a readable skops file: {exc}") from exc
    refused = [t for t in untrusted if not _is_trusted(t)]
    if refused:
        raise UntrustedArtifactError(
            f"model artifact {path} holds types mlmon does not load: {', '.join(refused)}",
            hint="only sklearn, numpy and scipy objects are loaded from artifacts",
        )
    try:
        pipeline = _skops_io().loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise ArtifactError(f"cannot load model artifact {path}: {exc}") from exc
    if fitted is not None:
        fitted[actual] = pipeline
    return pipeline
