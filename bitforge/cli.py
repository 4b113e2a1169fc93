"""bitforge: generate, simulate, train and measure low-bitwidth neural-network accelerators.

Every subcommand can print machine-readable JSON (``--json``). Each validates all its inputs, then claims its
output directory (``bitforge.outdir``), then works; a failure is one line on stderr with the exit code of
``bitforge.failures`` (2 bad input, 1 verification failure or internal error, 130 interrupted).
"""

import argparse
import signal
import sys
from pathlib import Path

from . import __version__
from .command import (CLIError, begin, emit, progress, check_build_root, liberty_of, report_options,
                      check_report_args, SEED, COUNT)
from .failures import Failure, classify, report_failure, EXIT_INTERRUPTED
from .jobs import simulate_block
from .limits import check_limits
from .options import SEED_MAX

__all__ = ["main", "build_parser", "CLIError"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``bitforge: error: ...``, exit code 2), like every other error."""

    def error(self, message):
        self.exit(2, f"bitforge: error: {message} (see `{self.prog} --help`)\n")


# -- generate ---------------------------------------------------------------

def _cmd_generate_block(args):
    from accel.blocks import block_class, build_block
    from rtl.verilog import write_design
    from .options import config_from_args
    config_cls = block_class(args.block)[0]
    cfg = config_from_args(config_cls, args)
    check_limits("generate block", cfg, args)
    begin(args)
    manifest = write_design(build_block(args.block, cfg), args.block, args.out, cfg.to_json())
    out = Path(args.out)
    manifest["files"] = [str(out / f"{args.block}.v"), str(out / f"{args.block}.json")]
    ports = ", ".join(f"{p['name']}[{p['width']}]" for p in manifest["ports"])
    return emit(args, manifest, f"wrote {manifest['files'][0]} and {manifest['files'][1]}\n"
                 f"ports: {ports}")


# -- simulate ---------------------------------------------------------------

def _cmd_simulate_block(args):
    from accel.blocks import block_class
    from .options import config_from_args
    cfg = config_from_args(block_class(args.block)[0], args)
    check_limits("simulate block", cfg, args)
    check_build_root()
    begin(args)
    progress(args, f"simulating {args.block} on {args.sim}")
    report = simulate_block(args.block, cfg, args.sim, args.out, seed=args.vector_seed, n_random=args.vectors)
    kind = "exhaustive" if report["exhaustive"] else "random"
    text = (f"{args.block} on {args.sim}: {report['vectors']} {kind} vectors, "
            f"{'0 mismatches' if report['passed'] else 'FAILED: ' + str(report['first_mismatch'])}"
            f" ({report['wall_s']} s); wrote {Path(args.out) / 'sim.json'}")
    emit(args, report, text)
    return 0 if report["passed"] else 1


# -- ppa --------------------------------------------------------------------

def _cmd_ppa(args):
    from ppa.flow import estimate_verilog
    from ppa.flow import check_stimulus
    from rtl.synth import read_verilog_sources
    check_limits("ppa", None, args)
    read_verilog_sources(args.verilog, args.top)
    check_stimulus(args.stimulus)
    check_report_args(args)  # the inputs first, then the tools
    liberty = liberty_of(args)
    begin(args)
    report = estimate_verilog(args.verilog, args.top, liberty, args.out, clock_mhz=args.clock_mhz,
                              require_timing=args.require_timing, cycles=args.cycles, stimulus=args.stimulus,
                              seed=args.seed, sim=args.sim, sram_liberty=args.sram_liberty,
                              progress=lambda m: progress(args, m))
    a, p, tm = report["area_um2"], report["power_mw"], report["timing"]
    text = (f"{args.top}: fmax {tm['fmax_mhz']:.1f} MHz (critical path {tm['critical_path_ns']:.3f} ns, "
            f"{tm['startpoint']} -> {tm['endpoint']}); at {report['clock_mhz']:g} MHz ({tm['clock_source']}"
            f"{'' if tm['met'] else ', NOT MET'}): area {a['total']:,.0f} um^2, power {p['total']:.4f} mW "
            f"(dynamic {p['dynamic']:.4f}, leakage {p['leakage']:.2g}; zero-delay lower bound) on "
            f"{report['library']['name']}\nwrote {Path(args.out) / 'report.html'}, activity.saif, netlist/")
    return emit(args, report, text)


# -- demo -------------------------------------------------------------------

def _cmd_demo(args):
    from . import demo
    begin(args, resume=f"finished stages are kept in {Path(args.out) / 'stages'}; run the same command again to "
                        f"resume from the stage that was interrupted")
    summary = demo.run_demo(args.out, sims=args.sim, progress=lambda m: progress(args, m),
                            reports=not args.no_reports, quiet=args.quiet)
    emit(args, summary, demo.format_summary(summary))
    return 0 if summary["all_passed"] else 1


# -- parser -----------------------------------------------------------------

def _block_parsers(parent, common):
    """One sub-parser per building block, with its config options; yields each."""
    from accel.blocks import BLOCKS
    from .options import add_config_options
    names = parent.add_subparsers(dest="block", metavar="NAME", required=True)
    for name, (config_cls, _, _) in BLOCKS.items():
        p = names.add_parser(name, parents=[common], help=config_cls.__doc__.splitlines()[0])
        add_config_options(p, config_cls)
        yield p


_HELP = {"generate": "write Verilog and a JSON manifest",
         "simulate": "run generated RTL against the golden model",
         "train": "train a network with the accelerator's arithmetic",
         "report": "area, power and energy reports (Yosys + gate-level simulation)",
         "sweep": "design-space exploration on Ray: train, synthesize, time and estimate many configurations"}


def build_parser():
    from .designs import DESIGNS, COMMANDS
    parser = _Parser(prog="bitforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"bitforge {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument("--force", action="store_true",
                        help="write into an --out that holds other files, another command's output or a run with "
                             "other settings (default: refuse)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    design_parsers = {}
    for command in COMMANDS:
        p = sub.add_parser(command, help=_HELP[command])
        design_parsers[command] = p.add_subparsers(dest="design", metavar="DESIGN", required=True)

    gen_block = design_parsers["generate"].add_parser("block", help="a reusable building block")
    for p in _block_parsers(gen_block, common):
        p.add_argument("--out", required=True, metavar="DIR", help="output directory")
        p.set_defaults(func=_cmd_generate_block)
    sim_block = design_parsers["simulate"].add_parser("block", help="a reusable building block")
    for p in _block_parsers(sim_block, common):
        p.add_argument("--sim", choices=("verilator", "icarus", "amaranth"), default="verilator")
        p.add_argument("--vector-seed", type=SEED, default=0, metavar="S", help=f"random-vector seed, 0..{SEED_MAX} (default 0)")
        p.add_argument("--vectors", type=COUNT, default=None, metavar="N",
                       help="random vectors when not exhaustive (default 10000)")
        p.add_argument("--out", required=True, metavar="DIR", help="output directory")
        p.set_defaults(func=_cmd_simulate_block)

    # every design's commands, from the registry
    from .sweep.cli import sweep_command
    for name, design in DESIGNS.items():
        commands = {**design.commands, "sweep": sweep_command(design)}
        for command in COMMANDS:
            if command in commands:
                c = commands[command]
                p = design_parsers[command].add_parser(name, parents=[common], help=c.help)
                c.add_arguments(p)
                p.set_defaults(func=c.run)

    ppa = sub.add_parser("ppa", parents=[common], help="power, performance and area of any synthesizable Verilog")
    ppa.add_argument("--verilog", nargs="+", required=True, metavar="FILE", help="Verilog source files")
    ppa.add_argument("--top", required=True, metavar="NAME", help="the top module")
    ppa.add_argument("--cycles", type=COUNT, default=1000, metavar="N", help="cycles of stimulus (default 1000)")
    ppa.add_argument("--stimulus", default="random", metavar="random|zeros|MODULE",
                     help="a seeded random value on every input each cycle (default), all zeros, or a cocotb "
                          "test module driving the netlist")
    ppa.add_argument("--seed", type=SEED, default=0, help=f"seed of the random stimulus, 0..{SEED_MAX} (default 0)")
    report_options(ppa)
    ppa.set_defaults(func=_cmd_ppa)

    demo = sub.add_parser("demo", parents=[common], help="the end-to-end demo on embedded defaults")
    demo.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    demo.add_argument("--sim", action="append", choices=("verilator", "icarus"),
                      help="simulator(s) to use, repeatable (default: every one installed); the training and "
                           "inference runs use Verilator when chosen")
    demo.add_argument("--no-reports", action="store_true", help="skip the power/area reports")
    demo.add_argument("--quiet", action="store_true", help="no progress messages")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)  # usage errors: one line, exit 2 (``_Parser.error``)
    except KeyboardInterrupt:  # while the parser imports the designs' configs
        return report_failure(Failure(EXIT_INTERRUPTED, "interrupted", "interrupted; nothing was saved"))
    args.guard, args.working, args.resume = None, False, None
    previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
    try:
        code = args.func(args)
    except BaseException as e:
        if isinstance(e, SystemExit):
            raise
        failure = classify(e, working=args.working, argv=argv, resume=args.resume)
        if args.guard is not None:
            # a failed start leaves nothing behind; a verification failure keeps its evidence, an interrupted
            # resumable run its checkpoints
            keep = failure.kind == "verification" or (failure.code == EXIT_INTERRUPTED and args.resume)
            args.guard.release(discard=not keep)
        return report_failure(failure, as_json=getattr(args, "json", False))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if args.guard is not None:
        args.guard.release()
    return code


def _main_thread():
    import threading
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
