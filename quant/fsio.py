"""Files every layer shares: atomic writes, the build directory, and the one .npz reader (no pickles).

Atomic: write to a temporary file beside the target, then rename, so a killed
run never leaves a half-written artifact under its final name. It lives in the
lowest layer because every layer above writes files.
"""

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path

from .errors import BadInput, first_line

__all__ = ["atomic_write_text", "atomic_write_bytes", "atomic_write_json", "ensure_dir", "default_build_root",
           "exclusive_lock", "read_npz", "MAX_NPZ_BYTES"]

#: Largest total of arrays ``read_npz`` expands (checked from the archive's directory before reading).
MAX_NPZ_BYTES = 4 << 30


@contextlib.contextmanager
def exclusive_lock(path):
    """Hold an exclusive lock on the file ``path`` (created, with its folder) while inside: two processes making
    one cached result take turns, the second finding the first's result done."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


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


def read_npz(path, what="file"):
    """Every array of the ``.npz`` archive ``path``, as a dict; never unpickles.

    A missing file raises ``FileNotFoundError``; anything else that is not such an archive (a directory, a .npy or text file, truncated, corrupt,
    holding pickled objects, expanding past ``MAX_NPZ_BYTES``) raises ``BadInput`` naming ``what`` and the file.
    """
    import zipfile
    import numpy as np
    name = f"{what} {str(path)!r}"
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{name} does not exist")
    if not path.is_file():
        raise BadInput(f"{name} is not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as e:
        raise BadInput(f"{name} cannot be read: {e.strerror}") from None
    if head.startswith(b"\x93NUMPY"):
        raise BadInput(f"{name} is a single .npy array, not an .npz archive")
    if not head.startswith(b"PK"):
        raise BadInput(f"{name} is not an .npz archive (it does not start like a zip file)")
    try:
        with zipfile.ZipFile(path) as z:
            size = sum(i.file_size for i in z.infolist())
        if size > MAX_NPZ_BYTES:
            raise BadInput(f"{name} expands to {size:,} bytes; at most {MAX_NPZ_BYTES:,} are read")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except BadInput:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise BadInput(f"{name} holds pickled objects; bitforge reads plain numeric and string arrays only") \
                from None
        raise BadInput(f"{name} is not a readable .npz archive ({first_line(e, 200)})") from None
    except Exception as e:  # zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError: a damaged archive
        raise BadInput(f"{name} is not a readable .npz archive ({type(e).__name__}: {first_line(e, 200)})") from None

