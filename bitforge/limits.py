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

__all__ = ["check_limits", "memory_limit_bytes", "MAX_RTL_WORDS", "MAX_VECTORS", "MAX_SIM_CYCLES",
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


def _memory(what, need):
    limit = memory_limit_bytes()
    if need > limit:
        raise BadInput(f"{what} needs about {_gib(need)} of memory; this machine allows {_gib(limit)} "
                       f"(80% of available memory, or BITFORGE_MAX_MEMORY_GB): use smaller sizes")


def _taxonn_words(cfg):
    return sum(a * b + b for a, b in zip(cfg.layers[:-1], cfg.layers[1:]))


def _rtl_words(cfg, limit=MAX_RTL_WORDS, what="the generated accelerator"):
    words = _taxonn_words(cfg)
    if words > limit:
        raise BadInput(f"--layers {','.join(map(str, cfg.layers))} gives {words:,} weight and bias words; "
                       f"{what} holds at most {limit:,}")
    return words


def _cycles(what, cycles, option):
    if cycles > MAX_SIM_CYCLES:
        raise BadInput(f"{what} would take about {cycles:,} RTL cycles; at most {MAX_SIM_CYCLES:,} per run: "
                       f"lower {option}")


def _positive(option, value, high=None):
    if value is None:
        return
    if value < 1 or (high is not None and value > high):
        span = f"between 1 and {high:,}" if high is not None else "at least 1"
        raise BadInput(f"{option} must be {span}, not {value}")


def _lstm_train_bytes(cfg, task):
    """Parameters, their gradients, Adam's two moments and the quantized copies (6 float32 each), plus the
    activations autograd keeps for one batch (about 24 floats per gate unit and time step)."""
    inputs, classes = task.input_size, task.classes
    params = 4 * cfg.hidden * (inputs + cfg.hidden) + 10 * cfg.hidden + (cfg.hidden + 1) * classes
    steps = cfg.seq_len if task.kind == "lm" else task.steps
    acts = cfg.batch * steps * 4 * cfg.hidden * 24
    return 4 * (6 * params + acts) + array_bytes(task)


def array_bytes(data):
    import numpy as np
    return sum(a.nbytes for a in vars(data).values() if isinstance(a, np.ndarray))


def check_limits(command, cfg, args, *, dataset=None, task=None):
    """Refuse, before any work, a ``command`` whose config ``cfg`` and options ``args`` exceed the limits."""
    if command in ("generate taxonn", "simulate taxonn"):
        words = _rtl_words(cfg)
        _memory(f"the {','.join(map(str, cfg.layers))} accelerator", words * 2048)
    if command == "report taxonn":
        _rtl_words(cfg, MAX_REPORT_WORDS, "a gate-level report")
    if command == "train taxonn":
        # the golden model's int64 weights, gradients and the float reference's copies: ~64 bytes per weight
        _memory(f"training {','.join(map(str, cfg.layers))}", _taxonn_words(cfg) * 64 + array_bytes(dataset))
        _positive("--epochs", args.epochs, 100_000)
    if command == "simulate taxonn":
        from models.taxonn import schedule
        _positive("--samples", args.samples, 10_000_000)
        _cycles(f"{args.samples:,} training steps", args.samples * schedule(cfg)["total"], "--samples")
    if command in ("generate lstm", "simulate lstm", "report lstm"):
        # the RTL pads lanes beyond H and chunks beyond max(I, H) with idle hardware: refused here, where a user
        # chose them, rather than in the config (tests exercise the padding)
        if cfg.lanes > cfg.hidden:
            raise BadInput(f"--lanes must be at most --hidden ({cfg.hidden}): each lane computes one hidden unit, "
                           f"not {cfg.lanes}")
        if cfg.inputs_per_cycle > max(cfg.input_size, cfg.hidden):
            raise BadInput(f"--inputs-per-cycle must be at most the larger of --input-size and --hidden "
                           f"({max(cfg.input_size, cfg.hidden)}): it chunks x and h, not {cfg.inputs_per_cycle}")
        words = 4 * cfg.hidden * (cfg.input_size + cfg.hidden)
        limit = MAX_REPORT_WORDS if command == "report lstm" else MAX_RTL_WORDS
        if words > limit:
            raise BadInput(f"--input-size {cfg.input_size} --hidden {cfg.hidden} gives {words:,} weights; "
                           f"{'a gate-level report' if limit == MAX_REPORT_WORDS else 'the generated accelerator'} "
                           f"holds at most {limit:,}")
    if command == "simulate lstm":
        from models.lstm import schedule
        available = len(task.x_test) if task is not None else None
        if available is not None and args.samples > available:
            raise BadInput(f"--samples {args.samples} is more than the {available} test sequences of {args.task}")
        _positive("--samples", args.samples, 1_000_000)
        steps = task.steps if task is not None else 8
        _cycles(f"{args.samples:,} sequences", args.samples * steps * schedule(cfg)["cycles_per_step"], "--samples")
    if command == "train lstm":
        _memory(f"training an H={cfg.hidden} LSTM on {cfg.task} (batch {cfg.batch})", _lstm_train_bytes(cfg, task))
    if command == "simulate block":
        _positive("--vectors", args.vectors, MAX_VECTORS)
    if command == "ppa":
        from ppa.flow import MAX_CYCLES
        _positive("--cycles", args.cycles, MAX_CYCLES)
