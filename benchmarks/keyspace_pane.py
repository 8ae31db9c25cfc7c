"""The Keyspace pane stays responsive while it scans 1,000,000 keys.

One throwaway Redis loaded with 1,000,000 keys in the spec's layout (the
generator of ``benchmarks/keyspace.py``); the real app headless at 80x24 on a
profile pointing at it. While the pane's exact scan runs, a key (``]``,
switching sub-view) is sent every 100 ms the way a terminal sends it, and the
time until the pane shows its effect is recorded; then the same with no scan
running (the anchor, same run). Also the exact scan's keys/s in the pane,
beside the same analysis run directly, without the UI (the anchor). The
three alternate, round after round (``--rounds``), so load on a shared
machine falls on candidate and anchors alike.

Run: .venv/bin/python benchmarks/keyspace_pane.py [--keys 1000000] [--presses 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _harness import load_average  # noqa: E402
from servers import redis_server  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def key_delay(app, pane, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    """Send ``]`` as a terminal would; seconds until the next sub-view is shown."""
    from textual import events

    before = pane.subview
    started = time.perf_counter()
    app.post_message(events.Key("right_square_bracket", "]"))
    while pane.subview == before:
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the key was not handled within 10 s")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


async def direct_scan(port: int) -> float:
    """Seconds for the same exact analysis with no UI around it."""
    from alfred_tui.config.loader import load_profile
    from alfred_tui.databases.keyspace import KeyspaceAnalyzer
    from alfred_tui.databases.redis import RedisTarget

    databases = load_profile("local").profile.redis_databases
    started = time.perf_counter()
    await KeyspaceAnalyzer(RedisTarget("127.0.0.1", port), databases).analyze(None, "exact")
    return time.perf_counter() - started


async def measure(profile: Path, port: int, presses: int, rounds: int) -> dict[str, list[float]]:
    """``rounds`` times, interleaved: the pane's exact scan with a key every 100 ms,
    the same number of keys with no scan (anchor), and the analysis run directly
    (anchor), so that load on a shared machine falls on all three alike."""
    from ui_helpers import fast_app

    app = fast_app(profile)
    result: dict[str, list[float]] = {"scanning": [], "idle": [], "pane": [], "direct": []}
    async with app.run_test(size=(80, 24)) as pilot:
        app.switch_mode("keyspace")
        while "keyspace" not in app._panes:
            await pilot.pause(0.05)
        pane = app._panes["keyspace"]
        while pane.scanning or pane.outcome is None:  # the pane's own first scan
            await pilot.pause(0.1)
        for _ in range(rounds):
            pane.mode = "exact"
            pane.start_scan()
            started = time.perf_counter()
            pressed = 0
            while pane.scanning:
                if pressed < presses // rounds:
                    result["scanning"].append(await key_delay(app, pane))
                    pressed += 1
                await asyncio.sleep(0.1)
            result["pane"].append(time.perf_counter() - started)
            if pane.outcome is None or not pane.outcome.ok:
                raise RuntimeError(f"the scan failed: {pane.outcome}")
            for _ in range(pressed):
                result["idle"].append(await key_delay(app, pane))
                await asyncio.sleep(0.1)
            result["direct"].append(await direct_scan(port))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    from keyspace import load  # the spec's layout, as benchmarks/keyspace.py loads it

    home = Path(tempfile.mkdtemp(prefix="alfred-bench-"))
    for name in ("ALFRED_TUI_DATA_DIR", "ALFRED_TUI_STATE_DIR", "XDG_CONFIG_HOME"):
        folder = home / name.lower()
        folder.mkdir()
        os.environ[name] = str(folder)
    with redis_server() as server:
        load_seconds = load(server, options.keys)
        profile = home / "bench.yaml"
        profile.write_text(
            "extends: local\n"
            "services:\n"
            f'  redis:\n    ports: ["127.0.0.1:{server.port}:6379"]\n'
            "  postgres:\n    enabled: false\n"
            "  qdrant:\n    enabled: false\n"
        )
        result = asyncio.run(measure(profile, server.port, options.presses, options.rounds))

    scanning = [d * 1000 for d in result["scanning"]]
    idle = [d * 1000 for d in result["idle"]]
    anchor = statistics.median(idle)
    pane_seconds = statistics.median(result["pane"])
    direct = statistics.median(result["direct"])
    print(
        f"keys loaded: {options.keys:,} in {load_seconds:.1f} s; {options.rounds} interleaved "
        f"rounds (medians); load average {load_average()}"
    )
    print()
    print(f"{'exact scan':36} {'seconds':>8} {'keys/s':>10} {'vs direct':>10}")
    print(
        f"{'in the pane, a key every 100 ms':36} {pane_seconds:8.2f} "
        f"{options.keys / pane_seconds:10,.0f} {pane_seconds / direct:9.2f}x"
    )
    print(f"{'anchor: direct, no UI':36} {direct:8.2f} {options.keys / direct:10,.0f} {1:9.2f}x")
    print()
    header = f"{'key -> effect on screen (ms)':36} {'n':>4} {'p50':>7} {'p99':>7} {'max':>7}"
    print(f"{header} {'p50 vs idle':>12}")
    for label, values in (("during the exact scan", scanning), ("anchor: idle, same app", idle)):
        print(
            f"{label:36} {len(values):>4} {statistics.median(values):7.1f} "
            f"{percentile(values, 0.99):7.1f} {max(values):7.1f} "
            f"{statistics.median(values) / anchor:11.2f}x"
        )
    print()
    print(
        "command: " + shlex.join([".venv/bin/python", "benchmarks/keyspace_pane.py", *sys.argv[1:]])
    )


if __name__ == "__main__":
    main()
