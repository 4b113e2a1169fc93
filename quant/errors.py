"""The two kinds of failure every layer can raise, and how the CLI reports them.

``BadInput``: the input or the environment is wrong and the user can fix it (a value out of range, a
corrupt file, a missing tool); the message is one line naming the value and what was expected. The CLI
exits 2. ``VerificationError``: the design disagrees with its golden model; the message gives the first
divergence. The CLI exits 1. Anything else raised after a command's inputs were validated is a bug.

Both live in the lowest layer because every layer above raises them.
"""

__all__ = ["BadInput", "BadType", "VerificationError", "first_line"]


class BadInput(ValueError):
    """A value, file or environment the user can fix: exit 2, one line."""


class BadType(BadInput, TypeError):
    """The wrong kind of value (a ``TypeError`` too, as the style guide asks): exit 2, one line."""


class VerificationError(RuntimeError):
    """The RTL (or netlist) disagrees with the golden model: exit 1, with the first divergence."""


def first_line(e, limit=None):
    """The first line of exception ``e``'s message (its type's name when it has none), cut to ``limit``
    characters: how an error from a library is quoted inside a one-line message."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    return line if limit is None else line[:limit]
