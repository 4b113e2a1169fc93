"""What every command of the CLI does the same way, for the CLI and the designs' entries (`bitforge.designs`):
one-line errors, the claim of ``--out``, progress on stderr, JSON or text on stdout, the report options and their
checks before any work."""

import json
import sys
from pathlib import Path

from quant.errors import BadInput

from .options import float_type, int_type, SEED_MAX
from .outdir import OutputDir, check_writable

__all__ = ["CLIError", "begin", "emit", "progress", "check_build_root", "restart_if_replacing", "liberty_of",
           "report_options", "library_options", "target_options", "fit_target", "target_line", "check_report_args",
           "TARGET_HELP", "report_text", "SEED", "COUNT", "VOLATILE"]

SEED = int_type(0, SEED_MAX, "an integer seed")
COUNT = int_type(1, None, "a positive integer")
COUNT0 = int_type(0, None, "a non-negative integer")


class CLIError(BadInput):
    """A user-facing error: printed as one line, exit code 2."""


#: Options that change how a run reports, not what it computes: they never make a directory "another run's".
VOLATILE = {"func", "json", "quiet", "force", "out", "command", "design", "block", "working", "guard", "resume", "jobs"}


def _settings(args):
    """What makes two runs of a command the same run: every option but the volatile ones, and the content of
    ``--config``."""
    out = {k: v for k, v in vars(args).items() if k not in VOLATILE and not k.startswith("_")}
    if getattr(args, "config", None):
        try:
            out["config"] = json.loads(Path(args.config).read_text())
        except (OSError, ValueError):
            pass
    return out


def check_build_root():
    """The build directory (simulator builds, synthesis caches) must be writable before any work."""
    from quant.fsio import default_build_root
    check_writable("the build directory (BITFORGE_BUILD_DIR, default ./.bitforge-build)", default_build_root(),
                   directory=True)


def restart_if_replacing(guard, *names):
    """With --force over another run's output, that run's checkpoints are not ours to resume: remove them."""
    if guard.replaces_other_run:
        for name in names:
            (guard.path / name).unlink(missing_ok=True)


def begin(args, *, resume=None, settings=None, volatile=()):
    """End of validation: claim ``--out`` (lock, ownership record) and start the work phase.

    ``resume``: what an interrupted run leaves and how to resume it (None: nothing is kept). ``volatile``: more
    options (argparse names) that change where or how fast the work runs, not what it computes."""
    name = " ".join(x for x in (args.command, getattr(args, "design", None)) if x)
    if settings is None:
        settings = {k: v for k, v in _settings(args).items() if k not in volatile}
    guard = OutputDir(args.out, name, settings,
                      force=getattr(args, "force", False))
    guard.claim()
    args.guard, args.working, args.resume = guard, True, resume
    return guard


def emit(args, result, text):
    """``result`` as JSON with ``--json``, else ``text``; exit code 0."""
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


def progress(args, message):
    if not getattr(args, "quiet", False):
        print(f"[bitforge] {message}", file=sys.stderr, flush=True)


# -- reports ------------------------------------------------------------------

def liberty_of(args):
    """The Liberty file of ``--liberty`` or ``--library``."""
    from rtl.liberty import default_liberty
    if args.liberty:
        path = Path(args.liberty)
        if not path.is_file():
            raise CLIError(f"liberty file {str(path)!r} does not exist")
        return path
    return default_liberty(args.library)


TARGET_HELP = ("a clock to meet: the design is built at the shallowest pipeline depth whose netlist meets it on the "
               "library (synthesized for it, timed by OpenSTA) and run at it; where no depth does, at the deepest "
               "one's own fmax, and the output names the path that prevents it")


def library_options(p):
    """The library a command synthesizes for: --liberty, --library, --sram-liberty."""
    p.add_argument("--liberty", metavar="FILE", help="a Liberty library (.lib or .lib.gz); default: --library")
    p.add_argument("--library", choices=("sky130", "ihp"), default="ihp",
                   help="a library of the PDK folder ($BITFORGE_PDK, default ../shared/pdk): ihp (default: IHP "
                        "SG13G2 cells with its SRAM macros) or sky130 (cells only)")
    p.add_argument("--sram-liberty", metavar="FILE",
                   help="an SRAM macro Liberty file of the cells' process (default: the PDK's macros of that process)")


def target_options(p):
    """`generate`'s --target-mhz and the library it times against."""
    p.add_argument("--target-mhz", type=float_type(0.0, "a clock in MHz"), default=None, metavar="F",
                   help=TARGET_HELP.replace(" and run at it", "") + " (needs Yosys and OpenSTA)")
    library_options(p)


def fit_target(args, component_for, depths):
    """``--target-mhz`` of `generate`: `ppa.estimate.fit_pipeline` over ``depths`` on the library; None without
    the option. The tools and the library are checked first."""
    if getattr(args, "target_mhz", None) is None:
        return None
    from ppa.estimate import fit_pipeline
    _check_synthesis_args(args)
    check_build_root()
    return fit_pipeline(component_for, depths, liberty_of(args), args.target_mhz, sram_liberty=args.sram_liberty,
                        progress=lambda message: progress(args, message))


def target_line(fit):
    """The clause a command's text adds for a `fit_target` / ``clock_target`` result ('' for None)."""
    if not fit:
        return ""
    last = fit["attempts"][-1]
    if fit["met"]:
        return (f"; pipeline depth {fit['depth']} meets {fit['target_mhz']:g} MHz (fmax {last['fmax_mhz']:.1f} MHz "
                f"synthesized for it)")
    return (f"; no pipeline depth meets {fit['target_mhz']:g} MHz: at depth {last['depth']} the critical path is "
            f"{last['critical_path_ns']:.3f} ns ({last['fmax_mhz']:.1f} MHz, {last['levels']} cells) from "
            f"{last['startpoint']} to {last['endpoint']}")


def report_options(p, *, sim=True, clock=True, target=False):
    """The options of every command that synthesizes and measures: library, clock, simulator, output."""
    library_options(p)
    if target:
        p.add_argument("--target-mhz", type=float_type(0.0, "a clock in MHz"), default=None, metavar="F",
                       help=TARGET_HELP + " (instead of --clock-mhz)")
    if clock:
        p.add_argument("--clock-mhz", type=float_type(0.0, "a clock in MHz"), default=None, metavar="F",
                       help="clock frequency (default: each design's own fmax, from static timing)")
        p.add_argument("--require-timing", action="store_true",
                       help="fail when the clock is above the design's fmax (default: flag it in the report)")
    if sim:
        p.add_argument("--sim", choices=("verilator", "icarus"), default=None,
                       help="simulator for the gate-level activity: verilator (the default of `report`: the netlist "
                            "compiled, toggles counted at compiled speed) or icarus (the default of `ppa`, whose "
                            "random and zeros stimuli run on it: a VCD read back); both count the same toggles")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _check_synthesis_args(args):
    """--sram-liberty names a file; Yosys and OpenSTA are installed (or their install command is named)."""
    from ppa.timing import find_sta
    from rtl.synth import find_yosys
    if args.sram_liberty and not Path(args.sram_liberty).is_file():
        raise CLIError(f"--sram-liberty file {args.sram_liberty!r} does not exist")
    find_yosys()
    find_sta()


def check_report_args(args):
    """Fail fast, before any work: --sram-liberty, Yosys, OpenSTA, the netlist simulator and the build directory
    (--clock-mhz is a finite positive number by its argparse type)."""
    from sim.runner import require_simulator
    if getattr(args, "target_mhz", None) is not None and getattr(args, "clock_mhz", None) is not None:
        raise CLIError(f"--target-mhz {args.target_mhz:g} and --clock-mhz {args.clock_mhz:g} both given: "
                       f"--target-mhz picks the design's depth and runs it at that clock; give one of them")
    if getattr(args, "sim", None) is None:
        args.sim = "icarus" if args.command == "ppa" else "verilator"
    _check_synthesis_args(args)
    require_simulator(args.sim)
    check_build_root()


def report_text(report, lines=(), out_dir=None):
    """The terminal summary of a design report (`bitforge report DESIGN`): the figures, the design's own
    comparison ``lines`` (`Design.report_lines`) and, with ``out_dir``, the page written."""
    a, p, e = report["area_um2"], report["power_mw"], report["energy"]
    text = [f"{report['design']}: area {a['total']:,.0f} um^2 ({a['logic']:,.0f} standard cells), power "
            f"{p['total']:.3f} mW at {report['clock_mhz']:g} MHz ({report['timing']['clock_source']}; fmax "
            f"{report['timing']['fmax_mhz']:.1f} MHz{'' if report['timing']['met'] else ', NOT MET'}) (dynamic "
            f"{p['dynamic']:.3f}, leakage "
            f"{p['leakage']:.2g}; zero-delay lower bound), {e['per_step_pj'] / 1e3:,.1f} nJ per {e['step']} "
            f"on {report['library']['name']}",
            f"energy model: {report['energy_model']['per_step_pj'] / 1e3:,.1f} nJ per {e['step']} "
            f"({100 * report['energy_model']['difference']:+.1f}% vs gate level; standard cells "
            f"{100 * (report['energy_model']['logic_difference'] or 0):+.1f}%)"]
    g = report.get("glitches")
    if g and g.get("ratio"):
        text.append(f"with glitches: dynamic {g['dynamic_mw_with_glitches']:.3f} mW (standard cells {g['ratio']:.3f}x "
                    f"the zero-delay energy on {g['window']}, SDF delays on Icarus)")
    if report.get("clock_target"):
        text.append(f"clock target{target_line(report['clock_target'])}")
    if report.get("clock_goal"):
        from ppa.pages import goal_line
        text.append(goal_line(report["clock_goal"]))
    text += list(lines)
    if out_dir is not None:
        text.append(f"wrote {Path(out_dir) / 'report.html'}")
    return "\n".join(text)
