"""Copying and unpacking shard folders without filling their holes.

qdrant-edge preallocates large sparse files (32 MiB WAL segments and
payload pages), so an empty collection takes kilobytes on disk. A naive copy
or tar extraction writes every zero and turns that into ~100 MiB per
collection; these helpers skip zero blocks instead (seek, then truncate to
size), keeping copies as small as the original.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

BLOCK = 1 << 16
_ZEROS = bytes(BLOCK)


def write_sparse(source: BinaryIO, target: Path, size: int | None = None) -> None:
    """Copy ``source`` to ``target``, leaving holes where the data is all zeros."""
    written = 0
    with target.open("wb") as out:
        while block := source.read(BLOCK):
            if block == _ZEROS[: len(block)]:
                out.seek(len(block), os.SEEK_CUR)
            else:
                out.write(block)
            written += len(block)
        out.truncate(written if size is None else size)


def sparse_copytree(source: Path, target: Path) -> None:
    """``shutil.copytree`` that keeps sparse files sparse."""
    target.mkdir(parents=True)
    for entry in os.scandir(source):
        destination = target / entry.name
        if entry.is_dir(follow_symlinks=False):
            sparse_copytree(Path(entry.path), destination)
        elif entry.is_file(follow_symlinks=False):
            with open(entry.path, "rb") as handle:
                write_sparse(handle, destination)
            shutil.copystat(entry.path, destination)


def extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """Write one regular file member of ``tar`` to ``target`` sparsely."""
    handle = tar.extractfile(member)
    if handle is None:
        raise tarfile.TarError(f"{member.name} has no content")
    target.parent.mkdir(parents=True, exist_ok=True)
    with handle:
        write_sparse(handle, target, member.size)
