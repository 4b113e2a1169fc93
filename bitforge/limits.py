"""What a command can serve on this machine, checked from its config before any work starts.

Each command's memory and work are estimated from the sizes in its config (the estimates below say what they
count); what is over a limit is refused with the estimate, the limit and the option to change. The limits:

* memory: ``BITFORGE_MAX_MEMORY_GB``, default 80% of the memory available when the command starts;
* RTL size: at most ``MAX_RTL_WORDS`` words of weights and biases in a generated accelerator (Amaranth elaborates
  every word; a million words takes minutes and gigabytes);
* simulation: at most ``MAX_VECTORS`` block vectors and ``MAX_SIM_CYCLES`` RTL cycles per run; ``--samples``
  at most what the dataset holds.
"""

import os

from quant.errors import BadInput

__all__ = ["check_limits", "memory_limit_bytes", "memory", "cycles", "positive", "array_bytes", "MAX_RTL_WORDS", "MAX_VECTORS", "MAX_SIM_CYCLES",
           "MAX_REPORT_WORDS"]

MAX_RTL_WORDS = 1 << 20
#: The reports synthesize and simulate the design at gate level: far smaller than what RTL simulation serves.
MAX_REPORT_WORDS = 1 << 17
MAX_VECTORS = 1_000_000
MAX_SIM_CYCLES = 10 ** 10
_GIB = 1 << 30


def memory_limit_bytes():
    """``BITFORGE_MAX_MEMORY_GB`` in bytes, else 80% of MemAvailable (of /proc/meminfo; 8 GiB where unknown)."""
    env = os.environ.get("BITFORGE_MAX_MEMORY_GB")
    if env:
        try:
            value = float(env)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise BadInput(f"BITFORGE_MAX_MEMORY_GB must be a positive number of GiB, not {env!r}")
        return int(value * _GIB)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * 0.8)
    except (OSError, ValueError, IndexError):
        pass
    return 8 * _GIB


def _gib(n):
    return f"{n / _GIB:,.1f} GiB"


def memory(what, need):
    """Refuse ``what`` when its estimated ``need`` (bytes) is over `memory_limit_bytes`."""
    limit = memory_limit_bytes()
    if need > limit:
        raise BadInput(f"{what} needs about {_gib(need)} of memory; this machine allows {_gib(limit)} "
                       f"(80% of available memory, or BITFORGE_MAX_MEMORY_GB): use smaller sizes")


def cycles(what, n, option):
    """Refuse a simulation of ``n`` RTL cycles over `MAX_SIM_CYCLES`, naming the ``option`` to lower."""
    if n > MAX_SIM_CYCLES:
        raise BadInput(f"{what} would take about {n:,} RTL cycles; at most {MAX_SIM_CYCLES:,} per run: "
                       f"lower {option}")


def positive(option, value, high=None):
    """``option``'s ``value`` is in [1, high] (or None: not given)."""
    if value is None:
        return
    if value < 1 or (high is not None and value > high):
        span = f"between 1 and {high:,}" if high is not None else "at least 1"
        raise BadInput(f"{option} must be {span}, not {value}")


def array_bytes(data):
    import numpy as np
    return sum(a.nbytes for a in vars(data).values() if isinstance(a, np.ndarray))


def check_limits(command, cfg, args, **inputs):
    """Refuse, before any work, a ``command`` whose config ``cfg`` and options ``args`` exceed the limits.

    ``command``: ``"COMMAND DESIGN"`` (the design's entry checks its own sizes: `bitforge.designs`),
    ``"generate block"``, ``"simulate block"`` or ``"ppa"``."""
    name, _, design = command.partition(" ")
    if design and design != "block":
        from .designs import DESIGNS
        DESIGNS[design].check_limits(name, cfg, args, **inputs)
    if command == "simulate block":
        positive("--vectors", args.vectors, MAX_VECTORS)
    if command == "ppa":
        from ppa.flow import MAX_CYCLES
        positive("--cycles", args.cycles, MAX_CYCLES)
