"""Content-addressed file storage behind a small interface.

``FileSystemStorage`` keeps files under the instance folder; an S3-compatible store only has
to implement the same four methods (``exists``, ``put``, ``open``, ``delete``) and be chosen in
``storage_for(app)``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

CHUNK = 64 * 1024


class HashMismatch(ValueError):
    def __init__(self, expected: str, actual: str):
        super().__init__(f"the bytes hash to {actual}, not {expected}")
        self.expected, self.actual = expected, actual


class TooLarge(ValueError):
    pass


class Storage(Protocol):
    def exists(self, sha256: str) -> bool: ...

    def put(self, sha256: str, stream: BinaryIO, *, max_bytes: int) -> int:
        """Store the stream if its SHA-256 is ``sha256``; return its size. Raises HashMismatch/TooLarge."""

    def open(self, sha256: str) -> BinaryIO: ...

    def delete(self, sha256: str) -> None: ...


class FileSystemStorage:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def put(self, sha256: str, stream: BinaryIO, *, max_bytes: int) -> int:
        target = self._path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"over {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise HashMismatch(sha256, digest.hexdigest())
            os.replace(tmp, target)  # atomic: readers never see a partial file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


def storage_for(app: Flask) -> Storage:
    root = app.config.get("ATTACHMENTS_DIR") or os.path.join(app.instance_path, "attachments")
    return FileSystemStorage(Path(root))


def storage() -> Storage:
    return current_app.extensions["rasoat_storage"]
