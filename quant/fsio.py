"""File output every layer shares: atomic writes and the build directory.

Atomic: write to a temporary file beside the target, then rename, so a killed
run never leaves a half-written artifact under its final name. It lives in the
lowest layer because every layer above writes files.
"""

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes", "atomic_write_json", "ensure_dir", "default_build_root"]


def default_build_root():
    """Where builds and caches go: ``$BITFORGE_BUILD_DIR`` or ``./.bitforge-build``."""
    return Path(os.environ.get("BITFORGE_BUILD_DIR", Path.cwd() / ".bitforge-build"))


def ensure_dir(path):
    """Create ``path`` (and parents); raise a clear error if it is not writable."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create output directory {str(path)!r}: {e.strerror}") from e
    if not os.access(path, os.W_OK):
        raise PermissionError(f"output directory {str(path)!r} is not writable")
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text):
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj):
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
