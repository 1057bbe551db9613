"""ArangoDB adapter (python-arango): the lineage graph in a named graph.

``AP_LINEAGE_URL=arangodb://user:pw@host:8529/db``; the registry writes edges
into its outbox and the relay delivers them here.
"""

from __future__ import annotations

from artifact_plane.adapters.arango.lineage import ArangoLineageStore

__all__ = ["ArangoLineageStore"]
