#!/usr/bin/env python3
"""Build the one-file alfred-tui for machines without network: ``make dist``.

The artifact is a PEX (https://docs.pex-tool.org): one executable zip file
holding the alfred-tui wheel and every dependency's wheels for CPython 3.11
to 3.14 on Linux x86_64 (glibc 2.28 or newer), compiled ones included once
per Python. Why PEX (docs/bastion.md says more): it resolves one dependency
set per target Python from a lock file, which neither shiv nor a wheelhouse
does, and its ``--venv --sh-boot`` layout starts as fast as an installed
wheel after the first run.

* ``build`` (default) -> ``dist/alfred-tui``: builds the wheel from this
  checkout, then the PEX from it and the locked dependencies.
* ``lock`` -> ``packaging/pex-lock.json``: resolves pyproject's dependencies
  for every target Python from PyPI; run it when they change (the build
  says so when the lock no longer satisfies them).

Downloads are cached under ``$ALFRED_DIST_CACHE`` (default
``/var/cache/alfred-tui-dist`` as root, else ``~/.cache/alfred-tui/dist``),
so a second build needs no network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "packaging" / "pex-lock.json"
#: The Pythons alfred-tui supports (pyproject's requires-python) and the lock covers.
SUPPORTED = ((3, 11), (3, 12), (3, 13), (3, 14))
#: The Pythons this build carries wheels for (``--python`` narrows it), oldest first.
PYTHONS = SUPPORTED
#: The oldest glibc the artifact's compiled wheels may need (manylinux_2_28).
GLIBC_MINOR = 28
PIP_VERSION = "25.3"


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2, as every alfred-tui command does."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def cache_dir() -> Path:
    """Where downloaded wheels and pex's own state are kept between builds."""
    if os.environ.get("ALFRED_DIST_CACHE"):
        return Path(os.environ["ALFRED_DIST_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/alfred-tui-dist")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alfred-tui" / "dist"


def interpreter_constraint() -> str:
    """``CPython>=3.11,<3.15`` from :data:`PYTHONS`."""
    oldest, newest = PYTHONS[0], PYTHONS[-1]
    return f"CPython>={oldest[0]}.{oldest[1]},<{newest[0]}.{newest[1] + 1}"


def complete_platform(version: tuple[int, int]) -> dict:
    """What pex needs to choose wheels for CPython ``version`` on Linux x86_64 (glibc 2.28+).

    The marker environment is the version's first release, so a dependency
    needed only before some patch release (``python_full_version < "3.11.3"``)
    is carried too.
    """
    from packaging import tags

    platforms: list[str] = []
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    for minor in range(GLIBC_MINOR, 4, -1):
        platforms.append(f"manylinux_2_{minor}_x86_64")
        if minor in legacy:
            platforms.append(f"{legacy[minor]}_x86_64")
    platforms.append("linux_x86_64")
    interpreter = f"cp{version[0]}{version[1]}"
    compatible = [
        *tags.cpython_tags(version, abis=[interpreter], platforms=platforms),
        *tags.compatible_tags(version, interpreter, platforms),
    ]
    full = f"{version[0]}.{version[1]}.0"
    return {
        "marker_environment": {
            "implementation_name": "cpython",
            "implementation_version": full,
            "os_name": "posix",
            "platform_machine": "x86_64",
            "platform_python_implementation": "CPython",
            "platform_system": "Linux",
            "python_full_version": full,
            "python_version": f"{version[0]}.{version[1]}",
            "sys_platform": "linux",
        },
        "compatible_tags": [str(tag) for tag in compatible],
    }


def preamble() -> str:
    """Code the PEX runs first, on any Python (2.7 syntax): refuse an unsupported Python in
    one line, and keep the extracted files out of a home that cannot be written.

    pex itself would search the PATH for another interpreter, unpack the
    whole file, then print a dozen lines; and with a read-only home it would
    unpack everything again on every run.
    """
    oldest, newest = PYTHONS[0], PYTHONS[-1]
    if oldest == newest:
        needs, hint = f"{oldest[0]}.{oldest[1]}", f"python{oldest[0]}.{oldest[1]}"
    else:
        needs = f"{oldest[0]}.{oldest[1]} to {newest[0]}.{newest[1]}"
        hint = f"python{oldest[0]}.{oldest[1]} or newer"
    return f"""# alfred-tui: checks before the PEX bootstrap (scripts/build_dist.py writes this).
import os as _alfred_os, sys as _alfred_sys
if not {oldest!r} <= tuple(_alfred_sys.version_info[:2]) <= {newest!r}:
    _alfred_sys.stderr.write(
        "alfred-tui needs Python {needs} (CPython, Linux x86_64); "
        "%s is Python %d.%d: run it with {hint}\\n"
        % (_alfred_sys.executable, _alfred_sys.version_info[0], _alfred_sys.version_info[1])
    )
    _alfred_sys.exit(2)


def _alfred_writable(path):
    while not _alfred_os.path.exists(path):
        parent = _alfred_os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return _alfred_os.access(path, _alfred_os.W_OK | _alfred_os.X_OK)


if "PEX_ROOT" not in _alfred_os.environ:
    _alfred_cache = _alfred_os.environ.get("XDG_CACHE_HOME") or _alfred_os.path.expanduser(
        "~/.cache"
    )
    if not _alfred_writable(_alfred_os.path.join(_alfred_cache, "pex")):
        import tempfile as _alfred_tempfile

        _alfred_root = _alfred_os.path.join(
            _alfred_tempfile.gettempdir(), "alfred-tui-pex-%d" % _alfred_os.getuid()
        )
        try:
            _alfred_os.mkdir(_alfred_root, 0o700)
        except OSError:
            pass
        _alfred_stat = _alfred_os.lstat(_alfred_root)
        if _alfred_stat.st_uid == _alfred_os.getuid() and not _alfred_stat.st_mode & 0o077:
            _alfred_os.environ["PEX_ROOT"] = _alfred_root
"""


def requirements() -> list[str]:
    """pyproject's runtime dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = SUPPORTED[0]
    if project["requires-python"] != f">={oldest[0]}.{oldest[1]}":
        fail(
            f"build_dist.py: pyproject says requires-python {project['requires-python']}, "
            f"but SUPPORTED starts at {oldest}: make them agree"
        )
    return list(project["dependencies"])


def pex(*args: str, quiet: bool = False) -> None:
    """Run pex (the one this Python has) with the shared cache."""
    command = [sys.executable, "-m", "pex", "--pex-root", str(cache_dir() / "pex"), *args]
    result = subprocess.run(command, capture_output=quiet, text=True)
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        fail(f"build_dist.py: pex failed (exit {result.returncode})")


def platform_args(folder: Path) -> list[str]:
    """``--complete-platform FILE`` for every target Python, written into ``folder``."""
    args = []
    for version in PYTHONS:
        path = folder / f"cp{version[0]}{version[1]}.json"
        path.write_text(json.dumps(complete_platform(version)))
        args += ["--complete-platform", str(path)]
    return args


def lock() -> None:
    """Resolve the dependencies for every target Python into the lock file."""
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "requirements.txt").write_text("\n".join(requirements()) + "\n")
        command = [
            sys.executable, "-m", "pex.cli", "lock", "create",
            "--pex-root", str(cache_dir() / "pex"),
            "--pip-version", PIP_VERSION, "--style", "strict", "--wheel", "--no-build",
            "--interpreter-constraint", interpreter_constraint(),
            *platform_args(folder),
            "-r", str(folder / "requirements.txt"),
            "--indent", "1", "-o", str(LOCK),
        ]  # fmt: skip
        if subprocess.run(command).returncode != 0:
            fail("build_dist.py: pex3 lock create failed")
    print(f"wrote {LOCK.relative_to(ROOT)}")


def check_lock() -> None:
    """Refuse, in one line, a lock made for other requirements than pyproject's."""
    if not LOCK.is_file():
        fail(f"build_dist.py: {LOCK.relative_to(ROOT)} is missing: run make dist-lock")
    from packaging.requirements import Requirement

    def normal(texts: list[str]) -> set[str]:  # pex writes ">=3.9,<4" as "<4,>=3.9"
        return {str(Requirement(text)) for text in texts}

    locked = normal(json.loads(LOCK.read_text())["requirements"])
    wanted = normal(requirements())
    if locked != wanted:
        changes = [f"+{r}" for r in sorted(wanted - locked)] + [
            f"-{r}" for r in sorted(locked - wanted)
        ]
        fail(
            f"build_dist.py: pyproject's dependencies changed since {LOCK.relative_to(ROOT)} "
            f"was made ({', '.join(changes)}): run make dist-lock (needs PyPI)"
        )


def build(output: Path) -> None:
    """Build the wheel of this checkout, then the PEX at ``output``."""
    check_lock()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", work, "."],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        wheel = next(folder.glob("alfred_tui-*.whl"))
        (folder / "preamble.py").write_text(preamble())
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        pex(
            "--lock", str(LOCK), "--project", str(wheel),
            "--interpreter-constraint", interpreter_constraint(), *platform_args(folder),
            "--no-pre-install-wheels", "--max-install-jobs", "0",
            "--preamble-file", str(folder / "preamble.py"),
            "--venv", "--sh-boot", "-c", "alfred-tui", "-o", str(partial),
            quiet=True,
        )  # fmt: skip
        os.replace(partial, output)
    print(describe(output, time.monotonic() - started))


def describe(artifact: Path, seconds: float) -> str:
    """One line: where, how big, what it holds for which Pythons."""
    with zipfile.ZipFile(artifact) as archive:
        info = json.loads(archive.read("PEX-INFO"))
    wheels = list(info["distributions"])
    compiled = {f"cp{a}{b}": sum(f"-cp{a}{b}-" in w for w in wheels) for a, b in PYTHONS}
    per_python = ", ".join(f"{tag} {count}" for tag, count in compiled.items())
    size = artifact.stat().st_size / 2**20
    return (
        f"{artifact} {size:.0f} MiB, {len(wheels)} wheels (compiled per Python: {per_python}), "
        f"built in {seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", choices=("build", "lock"), default="build")
    parser.add_argument("--output", "-o", type=Path, default=ROOT / "dist" / "alfred-tui")
    parser.add_argument(
        "--python",
        action="append",
        metavar="X.Y",
        help="build for these Pythons only (repeatable; default: all of "
        + ", ".join(f"{a}.{b}" for a, b in SUPPORTED)
        + "): a smaller file that unpacks faster, when the bastion's Python is known",
    )
    options = parser.parse_args()
    if options.python:
        global PYTHONS
        wanted = {tuple(int(part) for part in text.split(".")) for text in options.python}
        if wanted - set(SUPPORTED) or options.action == "lock":
            parser.error(f"--python takes some of {', '.join(f'{a}.{b}' for a, b in SUPPORTED)}")
        PYTHONS = tuple(version for version in SUPPORTED if version in wanted)
    if options.action == "lock":
        lock()
    else:
        build(options.output.resolve())


if __name__ == "__main__":
    main()
