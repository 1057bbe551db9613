"""Neo4j adapter (the official driver, async API): the lineage graph as labelled nodes.

``AP_LINEAGE_URL=neo4j://user:pw@host:7687/database``; the registry writes
edges into its outbox and the relay delivers them here.
"""

from __future__ import annotations

from artifact_plane.adapters.neo4j.lineage import Neo4jLineageStore

__all__ = ["Neo4jLineageStore"]
