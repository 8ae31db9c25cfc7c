"""Container probes as the kubelet runs them: exec, tcpSocket and httpGet.

A probe's handler runs every ``periodSeconds`` (after ``initialDelaySeconds``)
with ``timeoutSeconds``; ``failureThreshold`` failures in a row make it fail,
``successThreshold`` successes in a row make it succeed. What a result does
(restart, readiness) is the pod worker's business (:mod:`.kubelet`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

Obj = dict[str, Any]


@dataclass
class Outcome:
    """One run of a probe's handler."""

    ok: bool
    output: str = ""


def resolve_port(port: Any, container: Obj) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for item in container.get("ports") or []:
        if item.get("name") == port:
            return int(item["containerPort"])
    raise ValueError(f"port {port!r} is not a port of container {container['name']}")


async def run_handler(
    probe: Obj,
    container: Obj,
    pod_ip: str,
    run_exec: Callable[[list[str], float], Awaitable[tuple[int | None, str]]],
) -> Outcome:
    """Run the handler once, within the probe's timeout."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "exec" in probe:
            code, output = await run_exec(list(probe["exec"]["command"]), timeout)
            if code is None:
                return Outcome(False, f"command timed out after {timeout:g}s")
            return Outcome(code == 0, output.strip())
        if "tcpSocket" in probe:
            port = resolve_port(probe["tcpSocket"]["port"], container)
            host = probe["tcpSocket"].get("host") or pod_ip
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return Outcome(True)
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = resolve_port(get["port"], container)
            scheme = get.get("scheme", "HTTP").lower()
            host = get.get("host") or pod_ip
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            url = f"{scheme}://{host}:{port}{get.get('path', '/')}"
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.get(url, headers=headers, ssl=False) as response,
            ):
                body = (await response.read())[:1024].decode(errors="replace")
                if 200 <= response.status < 400:
                    return Outcome(True, body)
                return Outcome(False, f"HTTP probe failed with statuscode: {response.status}")
    except TimeoutError:
        return Outcome(False, f"timeout after {timeout:g}s")
    except (OSError, aiohttp.ClientError, ValueError) as exc:
        where = pod_ip
        return Outcome(False, f"{exc.__class__.__name__}: {exc} ({where})")
    return Outcome(False, "probe has no handler")


class ProbeState:
    """Consecutive results of one probe, and whether it currently passes."""

    def __init__(self, probe: Obj, initially: bool) -> None:
        self.probe = probe
        self.passing = initially
        self._successes = 0
        self._failures = 0

    @property
    def period(self) -> float:
        """Seconds between runs."""
        return float(self.probe.get("periodSeconds", 10))

    @property
    def initial_delay(self) -> float:
        """Seconds after the container starts before the first run."""
        return float(self.probe.get("initialDelaySeconds", 0))

    def record(self, ok: bool) -> bool | None:
        """Count a result; True/False when the probe's verdict changes, else None."""
        if ok:
            self._successes += 1
            self._failures = 0
            if not self.passing and self._successes >= int(self.probe.get("successThreshold", 1)):
                self.passing = True
                return True
        else:
            self._failures += 1
            self._successes = 0
            if self._failures >= int(self.probe.get("failureThreshold", 3)) and (
                self.passing or self._failures == int(self.probe.get("failureThreshold", 3))
            ):
                self.passing = False
                return False
        return None
