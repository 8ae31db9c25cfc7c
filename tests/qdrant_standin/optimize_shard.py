"""Optimize one qdrant-edge shard folder and exit (run by the stand-in's optimizer).

A separate process because ``EdgeShard.optimize()`` keeps Python's GIL for
its whole run; in the server process it would stall every request. Prints
the shard's figures after the run as one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> int:
    """Load the shard at ``path``, run the optimizers until done, flush and close."""
    import qdrant_edge

    shard = qdrant_edge.EdgeShard.load(path)
    try:
        changed = shard.optimize()
        info = shard.info()
        shard.flush()
    finally:
        shard.close()
    print(
        json.dumps(
            {
                "changed": changed,
                "segments": info.segments_count,
                "points": info.points_count,
                "indexed_vectors": info.indexed_vectors_count,
            }
        )
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: optimize_shard.py SHARD_DIR", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
