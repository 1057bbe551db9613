"""Loading an operator's callable from its own directory with importlib.

Each code artifact becomes a private package whose only search location is
its directory, so ``handler:run`` can only ever mean ``<directory>/handler.py``
(and a handler may import its siblings relatively). Nothing is imported from
the general import path, and no class or module is named by a setting.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import InvalidInputError

if TYPE_CHECKING:
    from artifact_plane.operators.context import OperatorContext
    from artifact_plane.operators.manifest import OperatorManifest

Handler = Callable[["OperatorContext"], Awaitable[dict[str, Any]]]
PACKAGE_ROOT = "_artifact_plane_operators"


def _package_name(manifest: OperatorManifest) -> str:
    # One private package per (directory, version): two versions never share modules.
    key = f"{manifest.directory}\0{manifest.ref}".encode()
    slug = manifest.id.replace(".", "_")
    return f"{PACKAGE_ROOT}.{slug}_{hashlib.sha256(key).hexdigest()[:12]}"


def _ensure_package(name: str, directory: Path | None) -> None:
    if name in sys.modules:
        return
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    package = importlib.util.module_from_spec(spec)
    # Only the operator's own directory: a namespace package of one location.
    package.__path__ = [str(directory)] if directory is not None else []
    sys.modules[name] = package


def module_file(manifest: OperatorManifest) -> Path:
    """The file the entrypoint's module names, checked to be inside the operator directory.

    Raises:
        InvalidInputError: the module file is missing or leaves the directory
            (through a symlink, say).
    """
    root = manifest.directory.resolve()
    relative = Path(*manifest.module.split("."))
    candidates = [root / relative.with_suffix(".py"), root / relative / "__init__.py"]
    for candidate in candidates:
        if candidate.is_file():
            if not candidate.resolve().is_relative_to(root):
                raise InvalidInputError(
                    f"{manifest.ref}: entrypoint", f"{candidate} leaves the operator directory {root}"
                )
            return candidate
    raise InvalidInputError(
        f"{manifest.ref}: entrypoint",
        f"module {manifest.module!r} not found: expected {candidates[0]} inside {root}",
    )


def load_handler(manifest: OperatorManifest) -> Handler:
    """Import the entrypoint and return its callable (an ``async def``).

    Raises:
        InvalidInputError: the module is missing or fails to import, or the
            callable is missing or not a coroutine function.
    """
    module_file(manifest)
    _ensure_package(PACKAGE_ROOT, None)
    package = _package_name(manifest)
    _ensure_package(package, manifest.directory.resolve())
    where = f"{manifest.ref}: entrypoint"
    try:
        module: types.ModuleType = importlib.import_module(f"{package}.{manifest.module}")
    except Exception as exc:
        raise InvalidInputError(
            where, f"importing {manifest.module!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    target = getattr(module, manifest.callable_name, None)
    if target is None:
        raise InvalidInputError(where, f"{manifest.module!r} has no attribute {manifest.callable_name!r}")
    if not inspect.iscoroutinefunction(target):
        raise InvalidInputError(
            where, f"{manifest.entrypoint} must be an 'async def' taking the context and returning a dict"
        )
    handler: Handler = target
    return handler
