"""``artifact-plane operator new <realm> <name>``: a working code artifact to start from.

Writes ``<realms>/<realm>/<name>/`` with a manifest, a handler, a sample
input, a test that runs the handler through the ``artifact_context`` fixture,
and a README. The result validates and its test passes as generated; a realm
without a manifest gets a minimal ``realm.yaml`` (writes to itself only).
"""

from __future__ import annotations

from pathlib import Path

from artifact_plane.errors import ConflictError, InvalidInputError
from artifact_plane.ids import ID_PATTERN
from artifact_plane.operators.manifest import INTENT, MANIFEST_NAME
from artifact_plane.realms_manifest import MANIFEST_NAME as REALM_MANIFEST

__all__ = ["scaffold"]

_MANIFEST = """\
# {realm}.{name}: describe what this operator produces, then run
#   artifact-plane operator validate {directory}
id: {realm}.{name}
version: 0.1.0
scope: {realm}
intent: {name}
category: custom
description: Summarises a JSON document into a {name}_result.
entrypoint: handler:run
regenerable: true
inputs:
  source:
    artifact_type: document
    description: any JSON object
    sample: samples/input.json
    content_type: application/json
input_schema:
  type: object
  additionalProperties: false
  properties:
    name:
      type: string
      pattern: "^[a-z0-9][a-z0-9-]{{0,63}}$"
      default: example
      description: the output is written to artifact://{realm}/{name}/<name>.json
output_schema:
  type: object
  required: [result]
  additionalProperties: false
  properties:
    result: {{type: string, description: the {name}_result artifact ID}}
"""

_HANDLER = '''\
"""{realm}.{name}: read the source document, write a summary, return its ID."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import OperatorContext


def summarise(document: dict[str, Any]) -> dict[str, Any]:
    """The summary this operator produces (a pure function: easy to test)."""
    return {{"keys": sorted(document), "size": len(document)}}


async def run(ctx: OperatorContext) -> dict[str, Any]:
    source = await ctx.load_json("source")
    summary = summarise(source)
    ctx.logger.info("summarised %s keys", summary["size"])
    path = f"{name}/{{ctx.params['name']}}.json"
    art_id = await ctx.write_json(path, summary, artifact_type="{name}_result")
    return {{"result": art_id}}
'''

_TEST = '''\
"""{realm}.{name} runs in isolation on an embedded plane (the artifact_context fixture)."""

from __future__ import annotations

import json
from pathlib import Path

from artifact_plane.testing import ArtifactContext

HERE = Path(__file__).resolve().parent


def test_{name}_summarises_the_sample(artifact_context: ArtifactContext) -> None:
    run = artifact_context.run(HERE, params={{"name": "sample"}})
    assert run.ok, run.error
    sample = json.loads((HERE / "samples" / "input.json").read_text())
    assert run.json("result") == {{"keys": sorted(sample), "size": len(sample)}}
    assert run.execution.operator == "{realm}.{name}@0.1.0"
'''

_README = """\
# {realm}.{name}

A code artifact of the `{realm}` realm serving the intent `{name}`.

* `artifact.yaml` — the manifest: id, version, inputs, params and output schemas.
* `handler.py` — `async def run(ctx)`: reads inputs through `ctx`, writes outputs with
  `ctx.write*` (lineage is recorded for you) and returns a dict of artifact IDs.
* `samples/input.json` — the sample input used by validation and the test.
* `test_{name}.py` — runs the handler on a throw-away embedded plane.

```sh
artifact-plane operator validate {directory}
pytest {directory}
artifact-plane run {realm} {name} --input source=<artifact id> --param name=first
```

Bump `version` whenever the handler changes: outputs of older versions then show as stale
and `artifact-plane regenerate <id>` refreshes them.
"""

_SAMPLE = '{"title": "Example", "items": [1, 2, 3], "owner": "someone"}\n'

_REALM = """\
# Created by `artifact-plane operator new`: this realm writes to itself only.
id: {realm}
description: The {realm} realm.
produces: [{name}_result]
permissions:
  read: []
  write:
    - to: self
      paths: ["**"]
"""


def scaffold(realms_dir: Path, realm: str, name: str) -> list[Path]:
    """Write a new operator ``<realm>.<name>``; return the files written.

    Raises:
        InvalidInputError: ``realm`` or ``name`` is not a valid name.
        ConflictError: the operator directory exists already.
    """
    if not ID_PATTERN.fullmatch(realm) or not INTENT.fullmatch(realm):
        raise InvalidInputError("realm", f"{realm!r} must be lower-case letters, digits or '_'")
    if not INTENT.fullmatch(name):
        raise InvalidInputError("name", f"{name!r} must be lower-case letters, digits or '_' (e.g. tally)")
    directory = realms_dir / realm / name
    if directory.exists():
        raise ConflictError(str(directory), "exists already; pick another name or bump its version by hand")
    values = {"realm": realm, "name": name, "directory": directory}
    files = {
        directory / MANIFEST_NAME: _MANIFEST,
        directory / "handler.py": _HANDLER,
        directory / f"test_{name}.py": _TEST,
        directory / "README.md": _README,
        directory / "samples" / "input.json": _SAMPLE,
    }
    realm_manifest = realms_dir / realm / REALM_MANIFEST
    if not realm_manifest.exists():
        files[realm_manifest] = _REALM
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template if template is _SAMPLE else template.format(**values)
        path.write_text(text, encoding="utf-8")
    return list(files)
