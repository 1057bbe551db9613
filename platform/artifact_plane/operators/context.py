"""What a handler is given: plane access scoped to its realm, the execution id, a logger.

Handlers read their inputs and write their outputs through the context, which
records lineage for them: every write carries the execution id (``execution
-PRODUCED-> artifact``) and the execution's inputs (``input -CONSUMED_BY->
execution``), and is remembered so the execution can list what it produced
and fail whatever is left pending. A handler returns a dict of artifact IDs.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.models import Artifact, ArtifactRecord, ArtifactStatus

if TYPE_CHECKING:
    import numpy.typing as npt

    from artifact_plane.operators.manifest import OperatorManifest
    from artifact_plane.scoped import ScopedPlane

__all__ = ["JSON", "MARKDOWN", "NPY", "SVG", "OperatorContext"]

JSON = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"
SVG = "image/svg+xml"
NPY = "application/x-npy"


@dataclass
class OperatorContext:
    """One handler invocation: its realm, params, resolved inputs and a recording plane handle."""

    plane: ScopedPlane
    execution_id: str
    realm: str
    operator: OperatorManifest
    params: dict[str, Any]
    inputs: dict[str, ArtifactRecord]
    logger: logging.LoggerAdapter[logging.Logger]
    consumed: tuple[str, ...] = ()
    produced: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ read

    def _input_id(self, name_or_id: str) -> str:
        record = self.inputs.get(name_or_id)
        return record.artifact_id if record is not None else name_or_id

    async def load(self, name_or_id: str) -> Artifact:
        """An input (by its name in the manifest) or any readable artifact (by ID), with payload.

        Raises:
            NotFoundError: no such input or artifact.
            PolicyDeniedError: the realm may not read it.
        """
        return await self.plane.get_artifact(self._input_id(name_or_id), include_payload=True)

    async def load_text(self, name_or_id: str) -> str:
        return (await self.load(name_or_id)).text()

    async def load_json(self, name_or_id: str) -> Any:
        """A JSON input, parsed.

        Raises:
            InvalidInputError: the payload is not JSON.
        """
        artifact = await self.load(name_or_id)
        try:
            return json.loads(artifact.text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                name_or_id, f"artifact {artifact.artifact_id} is not JSON: {exc}"
            ) from exc

    async def load_array(self, name_or_id: str) -> npt.NDArray[Any]:
        """A ``.npy`` input as a numpy array (object arrays refused: no pickles).

        Raises:
            InvalidInputError: the payload is not a ``.npy`` array.
        """
        import numpy as np

        artifact = await self.load(name_or_id)
        try:
            array: npt.NDArray[Any] = np.load(io.BytesIO(artifact.payload or b""), allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InvalidInputError(
                name_or_id, f"artifact {artifact.artifact_id} is not a .npy array: {exc}"
            ) from exc
        return array

    # ----------------------------------------------------------------- write

    def _fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        for reserved in ("execution_id", "inputs", "artifact_id"):
            if reserved in fields:
                raise InvalidInputError(reserved, "is set by the execution; leave it out")
        metadata = {**fields.pop("metadata", {}), "operator": self.operator.ref}
        return {
            **fields,
            "execution_id": self.execution_id,
            "inputs": list(self.consumed),
            "intent_type": self.operator.intent,
            "regenerable": self.operator.regenerable,
            "metadata": metadata,
        }

    async def write(
        self,
        path: str,
        data: object,
        *,
        artifact_type: str,
        content_type: str | None = None,
        **fields: Any,
    ) -> str:
        """Write a new version of ``artifact://<realm>/<path>``; return its artifact ID.

        Named outputs are what make staleness work: re-running writes the next
        version of the same name. ``status="pending"`` reserves an output that
        :meth:`complete` marks ready later.
        """
        art_id = await self.plane.write(
            f"artifact://{self.realm}/{path}",
            data,
            mode="upsert",
            artifact_type=artifact_type,
            content_type=content_type,
            **self._fields(fields),
        )
        self.produced.append(art_id)
        return art_id

    async def write_json(self, path: str, document: Any, *, artifact_type: str, **fields: Any) -> str:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return await self.write(path, text, artifact_type=artifact_type, content_type=JSON, **fields)

    async def write_array(
        self, path: str, array: npt.NDArray[Any], *, artifact_type: str, **fields: Any
    ) -> str:
        """Write a numpy array as a ``.npy`` payload."""
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        return await self.write(
            path, buffer.getvalue(), artifact_type=artifact_type, content_type=NPY, **fields
        )

    async def create(
        self, data: object, *, artifact_type: str, content_type: str | None = None, **fields: Any
    ) -> str:
        """Create an unnamed (content-addressed) output; return its artifact ID."""
        art_id = await self.plane.create_artifact(
            data,
            artifact_type=artifact_type,
            content_type=content_type,
            realm=self.realm,
            **self._fields(fields),
        )
        self.produced.append(art_id)
        return art_id

    async def complete(self, artifact_id: str) -> None:
        """Mark a pending output of this execution ready.

        Raises:
            NotFoundError: this execution did not write it.
            InvalidInputError: it is not pending.
        """
        if artifact_id not in self.produced:
            raise NotFoundError("output of this execution", artifact_id)
        await self.plane.set_status(artifact_id, ArtifactStatus.READY)

    def input_ids(self) -> Mapping[str, str]:
        """The artifact ID of each named input."""
        return {name: record.artifact_id for name, record in self.inputs.items()}
