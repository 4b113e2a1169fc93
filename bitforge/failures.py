"""How a command ends: the exit codes, and one honest line for every way it can fail.

====  =====================================================================================================
code  meaning
====  =====================================================================================================
0     done
1     verification failure (the RTL or netlist disagrees with the golden model; the line gives the first
      divergence), or an internal error (a bug: "internal error", and the path of the saved traceback)
2     bad input or environment: a value, file, option or missing tool, named, with what was expected
130   interrupted (Ctrl-C, SIGTERM): what was saved and how to resume
====  =====================================================================================================

A command runs in two phases. While it validates its inputs (options, configs, files, sizes, tools, the output
directory), any ``ValueError``/``TypeError``/``OSError`` is bad input. Once its work has started, only the
kinds that name an input (``BadInput``, ``OSError``) are; any other exception is a bug in bitforge.
"""

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from quant.errors import BadInput, VerificationError, first_line

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "Failure", "classify", "report_failure",
           "traceback_dir"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class Failure:
    """How one exception ends a command: its exit code, kind and one-line message."""

    def __init__(self, code, kind, message):
        self.code, self.kind, self.message = code, kind, message

    def to_json(self):
        return {"error": {"kind": self.kind, "message": self.message, "exit_code": self.code}}


def _first_line(e):
    if isinstance(e, KeyError) and e.args:
        return f"missing {e.args[0]!r}"
    return first_line(e)


def traceback_dir():
    """Where tracebacks of internal errors are kept: ``$BITFORGE_TRACEBACKS`` or the temporary directory."""
    return Path(os.environ.get("BITFORGE_TRACEBACKS") or Path(tempfile.gettempdir()) / "bitforge-tracebacks")


def _save_traceback(e, argv):
    try:
        folder = traceback_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=folder, prefix=time.strftime("%Y%m%d-%H%M%S-"), suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("bitforge " + " ".join(argv) + "\n\n")
            f.write("".join(traceback.format_exception(e)))
        return path
    except OSError:
        return None


def classify(e, *, working, argv=(), resume=None):
    """The ``Failure`` for exception ``e`` raised while validating (``working`` false) or working.

    ``resume``: what was saved and how to resume, for the interrupted message."""
    if isinstance(e, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, "interrupted", f"interrupted; {resume or 'nothing was saved'}")
    if isinstance(e, VerificationError):
        return Failure(EXIT_FAILED, "verification", _first_line(e))
    user = (BadInput, OSError) if working else (BadInput, OSError, ValueError, TypeError)
    if isinstance(e, user):
        return Failure(EXIT_BAD_INPUT, "bad_input", _first_line(e))
    path = _save_traceback(e, list(argv))
    where = f"traceback saved to {path}" if path else "the traceback could not be saved"
    return Failure(EXIT_FAILED, "internal", f"internal error ({type(e).__name__}: {_first_line(e)}); {where}; "
                                            f"please report it")


def report_failure(failure, *, as_json=False, stream=None):
    """Print ``failure`` as one line on stderr (``bitforge: error: ...``) and, with ``as_json``, as a JSON
    object on stdout."""
    print(f"bitforge: error: {failure.message}", file=stream or sys.stderr, flush=True)
    if as_json:
        print(json.dumps(failure.to_json(), indent=2, sort_keys=True), flush=True)
    return failure.code
