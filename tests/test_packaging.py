"""Built-in profiles and assets are found the same way from a checkout, an editable install
and a wheel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REPORT = """
import json, sys
sys.path.insert(0, sys.argv[1]) if sys.argv[1] else None
import alfred_tui
from alfred_tui import paths
from alfred_tui.config.loader import load_profile
profile = load_profile("dev").profile
print(json.dumps({
    "package": alfred_tui.__file__,
    "profiles": str(paths.profiles_dir()),
    "names": sorted(p.stem for p in paths.profiles_dir().glob("*.yaml")),
    "schema": (paths.assets_dir() / "schemas" / "check.v1.schema.json").is_file(),
    "image": profile.postgres.image,
}))
"""


def report(first_on_path: str, cwd: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", REPORT, first_on_path],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def test_bundled_files_from_checkout_editable_and_wheel(tmp_path: Path) -> None:
    expected_names = ["base", "dev", "local", "prod"]

    checkout = report(str(ROOT), tmp_path)
    assert Path(checkout["package"]).is_relative_to(ROOT)
    assert Path(checkout["profiles"]) == ROOT / "profiles"

    editable = report("", tmp_path)  # the test environment's own (editable) install
    assert Path(editable["profiles"]) == ROOT / "profiles"

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("alfred_tui-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    installed = report(str(target), tmp_path)
    assert Path(installed["package"]).is_relative_to(target)
    assert Path(installed["profiles"]) == target / "alfred_tui" / "_bundled" / "profiles"

    for result in (checkout, editable, installed):
        assert result["names"] == expected_names
        assert result["schema"] is True
        assert result["image"] == "supabase/postgres:15.1.0.117"
