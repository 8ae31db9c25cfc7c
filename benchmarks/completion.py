"""Latency of one shell completion, against the interpreter's own start, in the same run.

Each completion is what the shell's function runs at a TAB: ``alfred-tui``
with ``_ALFRED_TUI_COMPLETE=bash``, the line and the word. Cases: a command,
an option, a service, a profile (built-in and user), a Kubernetes context
(from a kubeconfig) and a backup id (from a catalog with 200 backups). The
command tree is cached first (as ``alfred-tui completion bash`` does), so
this is every completion after the first of a version. Also timed: the
whole bash function (sourcing the script included) for the backup id, and
the same completions through the one-file build when ``--artifact`` names one.

Anchors: ``python -c pass`` (the floor of any Python completion) and
``python -c 'import typer, pydantic'`` (what a completion through the Typer
app would pay before doing anything). Target: < 100 ms per completion.

Run: .venv/bin/python benchmarks/completion.py [--runs 20] [--artifact dist/alfred-tui]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Candidate, measure, print_table

CASES = {
    "command": ("alfred-tui ba", "ba"),
    "option": ("alfred-tui check --", "--"),
    "service": ("alfred-tui restore ", ""),
    "profile": ("alfred-tui status --profile ", ""),
    "kube context": ("alfred-tui status --context ", ""),
    "backup id": ("alfred-tui restore redis ", ""),
}
KUBECONFIG = """apiVersion: v1
kind: Config
contexts:
- {name: prod-eu, context: {cluster: prod-eu, user: op}}
- {name: lab-admin, context: {cluster: lab, user: op}}
"""


def prepare(folder: Path) -> dict[str, str]:
    """A user profile with a catalog of 200 backups, a kubeconfig, an empty cache."""
    profiles = folder / "config" / "alfred-tui" / "profiles"
    profiles.mkdir(parents=True)
    catalog = folder / "catalog"
    (profiles / "bench.yaml").write_text(f"extends: local\nbackups:\n  catalog: {catalog}\n")
    for service in ("postgres", "redis"):
        for day in range(1, 101):
            (catalog / service / f"{service}-202611{day % 28 + 1:02d}T{day:06d}Z").mkdir(
                parents=True
            )
    (folder / "kubeconfig").write_text(KUBECONFIG)
    environ = {
        "XDG_CONFIG_HOME": str(folder / "config"),
        "ALFRED_TUI_CACHE_DIR": str(folder / "cache"),
        "ALFRED_TUI_PROFILE": "bench",
        "KUBECONFIG": str(folder / "kubeconfig"),
    }
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # installed copies have their .pyc
    return environ


def cpu_milliseconds(candidate: Candidate, runs: int) -> float:
    """Median CPU time (user + system) of the candidate's process: what load does not inflate
    as much as wall time, so a busy machine still shows what a completion costs."""
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        candidate.run_once()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        samples.append(used * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--artifact", type=Path, help="the one-file build (make dist) to time too")
    args = parser.parse_args()
    alfred = shutil.which("alfred-tui", path=str(Path(sys.executable).parent)) or "alfred-tui"
    with tempfile.TemporaryDirectory() as tmp:
        environ = prepare(Path(tmp))
        script = Path(tmp) / "completion.bash"
        made = subprocess.run(
            [alfred, "completion", "bash"], env={**os.environ, **environ}, capture_output=True
        )
        script.write_bytes(made.stdout)
        programs = {"": alfred}
        if args.artifact:
            programs[" (one file)"] = str(args.artifact.resolve())
            artifact_env = {**environ, "PEX_ROOT": str(Path(tmp) / "pex")}
            subprocess.run(
                [programs[" (one file)"], "--version"], env={**os.environ, **artifact_env}
            )
        floor = Candidate("python -c pass", [sys.executable, "-c", "pass"])
        typer_floor = Candidate(
            "python -c 'import typer, pydantic'", [sys.executable, "-c", "import typer, pydantic"]
        )
        candidates = [floor, typer_floor]
        for suffix, program in programs.items():
            env = {**environ, "_ALFRED_TUI_COMPLETE": "bash"}
            if suffix:
                env["PEX_ROOT"] = str(Path(tmp) / "pex")
            for case, (line, word) in CASES.items():
                candidates.append(Candidate(f"{case}{suffix}", [program, line, word], env=env))
        words = "(alfred-tui restore redis '')"
        driver = (
            f"source {script}; COMP_WORDS={words}; COMP_CWORD=3; "
            "COMP_LINE='alfred-tui restore redis '; COMP_POINT=${#COMP_LINE}; _alfred_tui_complete"
        )
        bash_floor = Candidate(
            "bash: source the script only", ["bash", "--norc", "-c", f"source {script}"]
        )
        whole = Candidate(
            "bash: source + _alfred_tui_complete (backup id)",
            ["bash", "--norc", "-c", driver],
            env={**environ, "PATH": f"{Path(alfred).parent}:{os.environ['PATH']}"},
        )
        candidates += [bash_floor, whole]
        measure(candidates, args.runs, warmup=2)
        print_table("One shell completion, whole process", candidates, floor)
        print("\n| command | CPU ms (user + system, median) |")
        print("|---|---:|")
        for candidate in candidates:
            print(f"| {candidate.label} | {cpu_milliseconds(candidate, args.runs):.0f} |")
        worst = max(
            statistics.median(c.samples) for c in candidates if c not in (floor, typer_floor)
        )
        print(f"\nslowest completion median: {worst * 1000:.0f} ms (target < 100 ms)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
