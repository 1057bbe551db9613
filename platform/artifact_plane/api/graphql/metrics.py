"""Count and time each GraphQL operation, labelled by its root fields (bounded by the schema)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from artifact_plane.api.graphql.context import ApiContext


class OperationMetrics(SchemaExtension):
    """``graphql:<type>:<root fields>``; client-chosen names never become labels.

    Root fields of an executed operation exist in the schema, so the label
    set is bounded; a refused document is ``graphql:rejected``.
    """

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context.context
        if not isinstance(context, ApiContext):
            return
        metrics = getattr(context.request.app.state, "metrics", None)
        if metrics is None:
            return
        result = self.execution_context.result
        outcome = "error" if getattr(result, "errors", None) else "ok"
        # Not executed (a parse, validation or limit refusal): its field names are the client's words.
        label = self._label() if getattr(result, "data", None) is not None else "graphql:rejected"
        metrics.observe(label, outcome, started)

    def _label(self) -> str:
        document = self.execution_context.graphql_document
        if document is None:
            return "graphql:invalid"
        try:
            kind = self.execution_context.operation_type.value
        except RuntimeError:
            return "graphql:invalid"
        wanted = self.execution_context.operation_name
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if wanted is not None and (definition.name is None or definition.name.value != wanted):
                continue
            fields = sorted(
                {s.name.value for s in definition.selection_set.selections if isinstance(s, FieldNode)}
            )
            return f"graphql:{kind}:{','.join(fields) or 'fragments'}"
        return "graphql:invalid"
