"""Every command's output directory has one owner: a lock while it runs, a record of what wrote it.

A run validates the directory before creating anything (``check``), then ``claim``s it: creates it, takes an
exclusive lock (a second run into it fails at once, naming the first's pid; the lock dies with its process, so a
killed run never blocks the next) and records the command and its settings in ``.bitforge-run.json``. A directory
holding files bitforge did not write, or the output of another command or of other settings, is refused unless
``force``; the same command with the same settings may run again (that is how killed runs resume).
"""

import fcntl
import json
import os
from pathlib import Path

from quant.errors import BadInput
from quant.fsio import atomic_write_json

__all__ = ["OutputDir", "check_writable", "MARKER", "LOCK"]

MARKER = ".bitforge-run.json"
LOCK = ".bitforge.lock"


def _first_existing(path):
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(option, path, *, directory=False):
    """Refuse, creating nothing, a ``path`` given as ``option`` that this run could not write: a file (its own
    permission when it exists, else its directory's) or, with ``directory``, a directory it will create or fill
    (the nearest existing folder on its way)."""
    kind = "directory" if directory else "file"
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise BadInput(f"{option} must name a {kind}, not {str(path)!r}")
    p = Path(path)
    if p.exists() and p.is_dir() != directory:
        raise BadInput(f"{option} {str(path)!r} is a {'directory' if p.is_dir() else 'file'}, not a {kind}")
    if not directory and p.exists():
        if not os.access(p, os.W_OK):
            raise BadInput(f"{option} {str(path)!r} cannot be written: the file is read-only")
        return
    if not directory and not p.parent.absolute().is_dir():
        raise BadInput(f"{option} {str(path)!r} cannot be written: {str(p.parent.absolute())!r} is not a directory")
    base = _first_existing(p if directory else p.parent)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {str(path)!r} cannot be written: {str(base)!r} is not a writable directory")


def _differ(old, new):
    keys = sorted(set(old) | set(new))
    for k in keys:
        if old.get(k) != new.get(k):
            option = k[4:] if k.startswith("cfg_") else k  # config fields' options are stored as cfg_<field>
            return f"--{option.replace('_', '-')}: {old.get(k)!r} there, {new.get(k)!r} now"
    return None


class OutputDir:
    """The output directory ``path`` of ``command`` run with ``settings`` (a JSON-able dict)."""

    def __init__(self, path, command, settings, *, force=False, option="--out"):
        check_writable(option, path, directory=True)  # a name, a place this run can write (again in check)
        self.path, self.command, self.force, self.option = Path(path), command, force, option
        self.settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.created = False
        self.previous = None  # the record of the run that wrote the directory before, when there is one
        self._lock = None

    def _name(self):
        return f"{self.option} {str(self.path)!r}"

    def check(self):
        """Refuse, creating nothing, a directory this run cannot or must not write; return self."""
        check_writable(self.option, self.path, directory=True)
        p = self.path
        if not p.exists():
            return self
        held = self._holder()
        if held is not None:
            raise BadInput(f"{self._name()} is in use by another bitforge run (pid {held}); wait for it or "
                           f"choose another {self.option}")
        record = self._record()
        entries = sorted(e.name for e in p.iterdir() if e.name not in (MARKER, LOCK))
        if record is None:
            if entries and not self.force:
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                raise BadInput(f"{self._name()} already holds files bitforge did not write ({shown}); choose an "
                               f"empty or new directory, or pass --force to write into it")
            return self
        self.previous = record
        if record.get("command") != self.command and not self.force:
            raise BadInput(f"{self._name()} holds the output of `bitforge {record.get('command')}`; choose "
                           f"another {self.option}, or pass --force to replace it")
        diff = _differ(record.get("settings") or {}, self.settings)
        if diff and record.get("command") == self.command and not self.force:
            raise BadInput(f"{self._name()} holds a `bitforge {self.command}` run with other settings ({diff}); "
                           f"choose another {self.option}, or pass --force to replace it")
        return self

    @property
    def replaces_other_run(self):
        """True when ``force`` let this run into a directory another command or other settings wrote."""
        r = self.previous
        return bool(r) and (r.get("command") != self.command or r.get("settings") != self.settings)

    def _record(self):
        try:
            data = json.loads((self.path / MARKER).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _holder(self):
        """The pid holding the lock on the directory, or None when nobody does."""
        try:
            fd = os.open(self.path / LOCK, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(os.read(fd, 32).decode().strip() or 0) or "unknown"
            except ValueError:
                return "unknown"
        finally:
            os.close(fd)
        return None

    def claim(self):
        """Check again, create the directory, lock it and record this run; return self."""
        self.check()
        self.created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"{self._name()} cannot be created: {e.strerror}") from None
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BadInput(f"{self._name()} is in use by another bitforge run (pid {self._holder()}); wait for it "
                           f"or choose another {self.option}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock = fd
        atomic_write_json(self.path / MARKER, {"command": self.command, "settings": self.settings})
        return self

    def release(self, *, discard=False):
        """Unlock; with ``discard``, remove the directory again if this run created it (a failed start)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        if discard and self.created:
            import shutil
            shutil.rmtree(self.path, ignore_errors=True)
            self.created = False
