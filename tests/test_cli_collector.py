"""The collector is paused while a process starts, then frozen and resumed.

Each case runs in its own interpreter: the collector is process-wide, and
pytest's own must not be touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def run_python(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; its last line of output is one JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_paused_at_the_start_then_frozen_and_resumed() -> None:
    seen = run_python(
        """
        import gc, json, time
        from alfred_tui.cli.collector import pause_during_startup
        pause_during_startup(0.3)
        during = gc.isenabled()
        deadline = time.monotonic() + 30
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.02)
        print(json.dumps({"during": during, "after": gc.isenabled(),
                          "frozen": gc.get_freeze_count()}))
        """
    )
    assert seen["during"] is False
    assert seen["after"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1_000  # what the start made


def test_cycles_made_during_the_pause_are_collected_when_it_ends() -> None:
    seen = run_python(
        """
        import gc, json, time, weakref
        from alfred_tui.cli.collector import pause_during_startup
        class Node:
            pass
        pause_during_startup(0.3)
        node = Node()
        node.me = node
        alive = weakref.ref(node)
        del node
        kept = alive() is not None
        deadline = time.monotonic() + 30
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.02)
        print(json.dumps({"kept_while_paused": kept, "collected": alive() is None}))
        """
    )
    assert seen == {"kept_while_paused": True, "collected": True}


def test_a_collector_the_host_disabled_or_a_second_call_is_left_alone() -> None:
    seen = run_python(
        """
        import gc, json, threading, time
        from alfred_tui.cli import collector
        gc.disable()
        collector.pause_during_startup(0.1)
        time.sleep(0.4)
        host_disabled = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
        gc.enable()
        collector.pause_during_startup(0.1)
        deadline = time.monotonic() + 30
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.02)
        collector.pause_during_startup(0.1)  # a second main() in the same process
        second = gc.isenabled()
        time.sleep(0.4)
        print(json.dumps({"host_disabled": host_disabled, "second": second,
                          "threads": [t.name for t in threading.enumerate()]}))
        """
    )
    assert seen["host_disabled"] == {"enabled": False, "frozen": 0}
    assert seen["second"] is True
    assert seen["threads"] == ["MainThread"]


def test_the_console_command_runs_with_the_collector_paused() -> None:
    seen = run_python(
        """
        import gc, json, sys
        from alfred_tui.cli import main
        sys.argv = ["alfred-tui", "--version"]
        try:
            main()
        except SystemExit as exit:
            code = exit.code
        print(json.dumps({"code": code, "enabled": gc.isenabled()}))
        """
    )
    assert seen == {"code": 0, "enabled": False}
