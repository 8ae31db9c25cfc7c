"""Which local image the stand-in's kubelet runs for an image a pod asks for.

Docker Hub cannot be pulled on the test machines, so, as the Docker tests do,
the profile's images are mapped to the test images ``scripts/build-test-
images.sh`` builds (PostgreSQL 15 and Redis 7 from Debian's packages with
entrypoints that behave like the official images', and the Qdrant
stand-in): any tag of ``postgres`` or ``supabase/postgres``, of ``redis``,
and of ``qdrant/qdrant``. Any other image is used if the engine already has
it; otherwise the pod waits in ``ErrImagePull``/``ImagePullBackOff``, as on a
node that cannot reach the registry (the kubelet never pulls).

Every pod also gets a *pause* container holding its network namespace, as a
kubelet does: a tiny image made here from this machine's ``sleep`` and its
C library, so that creating one costs no copy of a database image (the vfs
storage driver copies a whole image for every container).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .docker_engine import DockerEngine, tar_of

TEST_IMAGE_LABEL = "org.alfred-tui.test-image"
PAUSE_TAG = "pause:1"


def prefix() -> str:
    """The test images' repository prefix (``ALFRED_TEST_IMAGE_PREFIX``, as the build script)."""
    return os.environ.get("ALFRED_TEST_IMAGE_PREFIX") or "alfred-tui-test"


#: Repository (without tag) -> (test image tag below the prefix, build-test-images.sh name).
MIRROR = {
    "postgres": ("postgres:15", "postgres"),
    "library/postgres": ("postgres:15", "postgres"),
    "supabase/postgres": ("postgres:15", "postgres"),
    "redis": ("redis:7", "redis"),
    "library/redis": ("redis:7", "redis"),
    "qdrant/qdrant": ("qdrant-standin:1", "qdrant-standin"),
}


def repository(image: str) -> str:
    """``docker.io/library/redis:7@sha256:..`` -> ``library/redis`` (no registry, tag, digest)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for registry in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(registry):
            name = name[len(registry) :]
    return name


def mirrored(image: str) -> str:
    """The local image the kubelet runs for ``image`` (itself when it is not mapped)."""
    entry = MIRROR.get(repository(image))
    return f"{prefix()}/{entry[0]}" if entry else image


def build_names(images: list[str]) -> list[str]:
    """``build-test-images.sh`` names of the mapped test images among ``images``."""
    found = [MIRROR[repository(i)][1] for i in images if repository(i) in MIRROR]
    return sorted(set(found))


def build_test_images(names: list[str]) -> None:
    """Build (cached by content) the test images the script knows by ``names``."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "build-test-images.sh"
    if names:
        # The stand-in's Python packages are installed by this Python's pip.
        env = {**os.environ, "PYTHON": os.environ.get("PYTHON") or sys.executable}
        subprocess.run([str(script), *names], check=True, timeout=3600, env=env)


def _pause_files() -> list[tuple[str, bytes, int, int, int]]:
    sleep = shutil.which("sleep") or "/bin/sleep"
    needed = [sleep]
    listing = subprocess.run(["ldd", sleep], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            needed.append(path)
    files = []
    for path in needed:
        real = Path(path).resolve()
        mode = real.stat().st_mode & 0o777
        content = real.read_bytes()
        target = "bin/sleep" if path == sleep else path.lstrip("/")
        files.append((target, content, mode, 0, 0))
        if real.as_posix().lstrip("/") != target and path != sleep:
            files.append((real.as_posix().lstrip("/"), content, mode, 0, 0))
    return files


async def ensure_pause_image(engine: DockerEngine) -> str:
    """The pause image (made once from this machine's ``sleep``); its tag."""
    tag = f"{prefix()}/{PAUSE_TAG}"
    if await engine.image(tag) is not None:
        return tag
    repository_name, _, version = tag.rpartition(":")
    await engine.import_image(
        tar_of(_pause_files()),
        repository_name,
        version,
        [
            'CMD ["/bin/sleep", "infinity"]',
            f"LABEL {TEST_IMAGE_LABEL}=pause",
        ],
    )
    return tag
