"""The registry of accelerator designs: one entry per design, which every command iterates.

An entry (`Design`) names everything the toolkit knows about a design: its config class, its Amaranth component,
its golden model and cycle schedule, the host job and cocotb testbench that run it, the workload of its power
report, its energy model and report, the CLI subcommands it offers (`Command`: arguments and the function that
runs them) and how a sweep trial trains and measures it (`bitforge.sweep`). `bitforge.cli` builds every
``COMMAND DESIGN`` parser from this table and holds no design-specific code: adding a design is adding an entry
to `DESIGNS`.
"""

from dataclasses import dataclass, field
from typing import Callable, Mapping

__all__ = ["Design", "Command", "DESIGNS", "design", "COMMANDS"]

#: the commands that take a DESIGN, in the order of the CLI's help
COMMANDS = ("generate", "simulate", "train", "report", "sweep")


@dataclass(frozen=True)
class Command:
    """One ``bitforge COMMAND DESIGN``: its help line, ``add_arguments(parser)`` and ``run(args) -> exit code``."""
    help: str
    add_arguments: Callable
    run: Callable


@dataclass(frozen=True)
class Design:
    """Everything the toolkit knows about one accelerator design (see the module's docstring).

    Callables take the design's config (an instance of ``config``) first. ``cycles_per_step(cfg)`` is the
    golden model's exact schedule per ``step``; ``trial(cfg, budget, work_dir, liberty, ...)`` trains and
    measures one sweep point (`bitforge.sweep.trial`); ``verify(cfg, trained, budget, work_dir, sim, samples)`` runs a trained
    trial on the RTL against the golden model; ``demo(settings, out_dir, sim, progress)`` is the design's stage
    of `bitforge.demo` (trained, then run on the RTL); ``variants(cfg)`` names the design and its comparison
    designs' configs; ``figures(cfg)`` are the schedule's figures a generated manifest records."""
    name: str
    title: str
    config: type
    component: Callable
    golden: Callable
    schedule: Callable
    cycles_per_step: Callable
    step: str
    job: Callable
    testbench: str
    workload: Callable
    energy: Callable
    report: Callable
    report_lines: Callable
    commands: Mapping[str, Command]
    budget: Mapping = field(default_factory=dict)
    train: Callable = None
    verify: Callable = None
    check_limits: Callable = None
    demo: Callable = None
    variants: Callable = None
    figures: Callable = None


def _entries():
    from . import taxonn, lstm
    return {d.name: d for d in (taxonn.DESIGN, lstm.DESIGN)}


#: design name -> `Design`
DESIGNS = _entries()


def design(name):
    """The entry named ``name``; a one-line error naming the designs there are."""
    from quant.errors import BadInput
    if name not in DESIGNS:
        raise BadInput(f"no design named {name!r}; the designs are {', '.join(DESIGNS)}")
    return DESIGNS[name]
