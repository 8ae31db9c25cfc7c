"""The one-file build against the installed wheel: size, first run, start-up, in one run.

The anchor is the same alfred-tui wheel installed by pip into a fresh
virtualenv (its dependencies from the package index, byte-compiled as pip
does). The one-file build (``make dist``) is timed warm (its venv already
laid out under PEX_ROOT: every run after the first on a machine) and cold
(a fresh PEX_ROOT each time: the first run on a machine, which unpacks the
wheels for this Python and builds the venv). Commands: ``--version`` (the
smallest start), ``profiles list -o json`` (YAML, pydantic, every built-in
profile) and ``--help`` (Typer and every command registered); interleaved,
medians.

Run: .venv/bin/python benchmarks/dist_startup.py [--runs 10] [--cold-runs 3]
     (after `make dist`; --artifact names another build)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Candidate, measure, print_table

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"--version": ["--version"], "profiles list": ["profiles", "list", "-o", "json"]}
COMMANDS["--help"] = ["--help"]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def wheel_venv(folder: Path) -> tuple[Path, Path]:
    """A virtualenv with the wheel of this checkout installed by pip; (its alfred-tui, wheel)."""
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(folder)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    wheel = next(folder.glob("alfred_tui-*.whl"))
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True)
    return venv / "bin" / "alfred-tui", wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--artifact", type=Path, default=ROOT / "dist" / "alfred-tui")
    args = parser.parse_args()
    if not args.artifact.is_file():
        raise SystemExit(f"{args.artifact} is missing: run `make dist` first")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # both sides keep their .pyc
    artifact = str(args.artifact.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        installed, wheel = wheel_venv(folder)
        env = {"ALFRED_TUI_CACHE_DIR": tmp, "ALFRED_TUI_STATE_DIR": tmp}
        pex_env = {**env, "PEX_ROOT": str(folder / "pex")}
        subprocess.run([artifact, "--version"], env={**os.environ, **pex_env}, check=True)

        cold: list[float] = []
        for index in range(args.cold_runs):
            fresh = {**os.environ, **env, "PEX_ROOT": str(folder / f"pex-cold-{index}")}
            started = time.perf_counter()
            subprocess.run([artifact, "--version"], env=fresh, check=True, capture_output=True)
            cold.append(time.perf_counter() - started)

        floor = Candidate("python -c pass", [str(installed.parent / "python"), "-c", "pass"])
        candidates = [floor]
        pairs = []
        for label, command in COMMANDS.items():
            wheel_run = Candidate(f"wheel: alfred-tui {label}", [str(installed), *command], env=env)
            one_file = Candidate(f"one file: alfred-tui {label}", [artifact, *command], env=pex_env)
            candidates += [wheel_run, one_file]
            pairs.append((label, wheel_run, one_file))
        measure(candidates, args.runs, warmup=2)
        print_table("Start-up: the one-file build against the installed wheel", candidates, floor)

        print("\n| command | wheel ms | one file ms | one file / wheel |")
        print("|---|---:|---:|---:|")
        for label, wheel_run, one_file in pairs:
            a, b = statistics.median(wheel_run.samples), statistics.median(one_file.samples)
            print(f"| {label} | {a * 1000:.0f} | {b * 1000:.0f} | {b / a:.2f} |")
        print(
            f"| --version, first run on a machine (fresh PEX_ROOT, median of {len(cold)}) | - | "
            f"{statistics.median(cold) * 1000:.0f} | - |"
        )

        site = next((folder / "venv" / "lib").glob("python3*/site-packages"))
        sizes = {
            f"the one-file build ({args.artifact.name})": args.artifact.stat().st_size,
            "the wheel alone": wheel.stat().st_size,
            "the wheel installed with its dependencies (site-packages)": folder_size(site),
            "the one-file build unpacked for one Python (PEX_ROOT)": folder_size(
                folder / "pex-cold-0"
            ),
        }
        print("\n| what | MiB |")
        print("|---|---:|")
        for what, size in sizes.items():
            print(f"| {what} | {size / 2**20:.1f} |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
