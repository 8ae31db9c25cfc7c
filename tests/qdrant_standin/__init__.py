"""A Qdrant **stand-in** server for tests: Qdrant's REST subset over a real Qdrant engine.

There is no Qdrant binary or image on the machines these tests run on, so this
package plays the part of one. It is a stand-in, not Qdrant: it speaks the
REST endpoints alfred-tui uses (health, metrics, telemetry, collections,
points, payload indexes, snapshots) with Qdrant's reply shapes, and stores
data with ``qdrant-edge-py`` (Qdrant's own storage engine as a library), so
segment counts, indexed vectors, payload index sizes and optimizer runs are
real rather than invented.

Run it as ``cd tests && python -m qdrant_standin --port 6333 --storage DIR``.
Only the standard library and ``qdrant-edge-py`` are needed (see
``requirements.txt``), so a Docker test image needs nothing else.
"""

STANDIN_TITLE = "qdrant - vector search engine (alfred-tui stand-in)"
"""The ``title`` the root endpoint reports: says plainly that this is not Qdrant."""

DEFAULT_QDRANT_VERSION = "1.7.4"
"""Version reported by ``/``: the spec's image (``qdrant/qdrant:v1.7.4``)."""
