"""CPU and memory of the local servers, from /proc: the server's process and its children.

A PostgreSQL server is a postmaster and its backends, so a reading sums the
whole process tree: CPU time (``utime + stime`` of every live process, plus
what exited children left in the postmaster's ``cutime + cstime``) and
memory as PSS from ``smaps_rollup`` (each shared page counted once across
the processes that share it, so shared_buffers is not counted once per
backend); RSS where PSS cannot be read. CPU is a rate, so the first reading
of a server has none: the next one, a refresh later, does.

Local servers run without cgroup limits: limits are None and never judged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alfred_tui.backends.base import InstanceUsage
from alfred_tui.config.models import ServiceKind

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class TreeSample:
    """CPU seconds and memory of one process tree at one moment."""

    at: float
    cpu_seconds: float
    memory: int
    processes: int


def _stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` fields after the command name (field 3 onwards)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _process_table() -> dict[int, list[str]]:
    """Every process's stat fields, by pid (one pass over /proc for all the servers)."""
    table: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                table[int(entry.name)] = fields
    return table


def _children(table: dict[int, list[str]]) -> dict[int, list[int]]:
    """Each process's children, by parent pid."""
    children: dict[int, list[int]] = {}
    for pid, fields in table.items():
        children.setdefault(int(fields[1]), []).append(pid)
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and every process below it."""
    found, queue = [root], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _memory(pid: int, fields: list[str]) -> int:
    """PSS of ``pid`` in bytes (RSS when smaps_rollup cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(fields[21]) * _PAGE


def sample_trees(roots: Iterable[int]) -> dict[int, TreeSample | None]:
    """CPU seconds and memory of each root's process tree; None for a root that is gone.

    Blocking (reads /proc): call it in a thread from async code. /proc is
    read once for every root: a refresh of three servers reads each
    process's stat once, not once per server.
    """
    table = _process_table()
    children = _children(table)
    at = time.time()
    samples: dict[int, TreeSample | None] = {}
    for root in roots:
        cpu_ticks = memory = alive = 0
        for pid in _tree(root, children):
            fields = table.get(pid)
            if fields is None:
                continue
            alive += 1
            cpu_ticks += int(fields[11]) + int(fields[12])  # utime, stime
            if pid == root:
                cpu_ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: exited children
            memory += _memory(pid, fields)
        samples[root] = TreeSample(at, cpu_ticks / _TICKS, memory, alive) if alive else None
    return samples


def usage_between(
    service: ServiceKind, instance: str, current: TreeSample, previous: TreeSample | None
) -> InstanceUsage:
    """One instance's usage: memory now, CPU over the time since ``previous``."""
    cpu = None
    note = f"{current.processes} process(es), no cgroup limits"
    if previous is not None and current.at > previous.at:
        cpu = max(0.0, (current.cpu_seconds - previous.cpu_seconds) / (current.at - previous.at))
        cpu *= 100
    elif previous is None:
        note = "CPU needs a second reading (next refresh)"
    return InstanceUsage(
        service=service,
        instance=instance,
        cpu_percent=cpu,
        memory=current.memory,
        taken_at=current.at,
        note=note,
        pending=cpu is None,
    )
