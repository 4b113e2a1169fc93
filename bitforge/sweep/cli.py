"""``bitforge sweep DESIGN``: the CLI command, one per design of the registry."""

from pathlib import Path

from ..command import begin, emit, progress, check_build_root, liberty_of, report_options, CLIError, COUNT, SEED
from ..designs import Command
from ..options import int_type

__all__ = ["sweep_command"]


def _arguments(p):
    from .pareto import OBJECTIVES
    from .search import SEARCHES
    p.add_argument("--space", required=True, metavar="FILE.yaml|json",
                   help="the config fields to sweep, their values or ranges, the fixed fields and the training "
                        "budget (see docs/sweep.md and examples/)")
    p.add_argument("--search", choices=SEARCHES, default="grid",
                   help="grid (every point, default), random (a seeded sample of --trials points) or optuna "
                        "(NSGA-II over several objectives, TPE over one; learns from finished trials)")
    p.add_argument("--trials", type=COUNT, metavar="N", help="trials of a random or optuna search")
    p.add_argument("--objectives", default="accuracy,area,energy", metavar="A,B,...",
                   help=f"the Pareto front's objectives, of {', '.join(OBJECTIVES)} (default accuracy,area,energy)")
    p.add_argument("--address", metavar="ADDR",
                   help="join this running Ray cluster (HOST:PORT or 'auto'); default: a local Ray on this machine")
    p.add_argument("--cpus-per-trial", type=int_type(1, 256, "a CPU count"), default=1, metavar="C",
                   help="CPUs each trial declares to Ray (default 1)")
    p.add_argument("--workers", type=int_type(1, 1024, "a worker count"), metavar="W",
                   help="trials at a time on the local Ray (default: CPUs / C); with --address, the cluster's CPUs "
                        "decide")
    p.add_argument("--verify", type=int_type(0, 4096, "a trial count"), default=1, metavar="K",
                   help="trials (drawn with --seed) whose trained network is also run on the RTL against the "
                        "golden model (default 1; 0: none)")
    p.add_argument("--verify-sim", choices=("verilator", "icarus"), default="verilator",
                   help="simulator of those RTL runs (default verilator)")
    p.add_argument("--verify-front", action="store_true",
                   help="gate-level power (compiled netlist, the design's workload) of the trials on the front")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the random search, Optuna and the verified "
                                                        "sample (default 0)")
    report_options(p, sim=False, clock=False)


def _run(design):
    def run(args):
        from .engine import plan_sweep, run_sweep
        from .pareto import parse_objectives
        from .results import write_results
        from .space import load_space
        from rtl.synth import find_yosys
        from ppa.timing import find_sta
        from sim.runner import require_simulator
        objectives = parse_objectives(args.objectives)
        space = load_space(args.space, design)
        plan = plan_sweep(design, space, search=args.search, trials=args.trials, objectives=objectives,
                          verify=args.verify, seed=args.seed)  # its errors before any work
        if args.sram_liberty and not Path(args.sram_liberty).is_file():
            raise CLIError(f"--sram-liberty file {args.sram_liberty!r} does not exist")
        find_yosys()
        find_sta()
        if args.verify:
            require_simulator(args.verify_sim)
        check_build_root()
        liberty = liberty_of(args)
        import importlib.util
        if importlib.util.find_spec("ray") is None:
            raise CLIError("Ray is not installed; install it with: pip install 'ray>=2.9' (or `make setup`)")
        # where and how many at once does not change what a trial computes: a sweep resumes on another cluster
        begin(args, resume=f"finished trials are kept in {Path(args.out) / 'trials'}; run the same command again "
                           f"to resume (they are not recomputed)",
              volatile=("address", "workers", "cpus_per_trial", "verify_front"))
        summary = run_sweep(design, space, plan, args.out, liberty, sram_liberty=args.sram_liberty,
                            address=args.address, cpus_per_trial=args.cpus_per_trial, workers=args.workers,
                            verify_sim=args.verify_sim, verify_front=args.verify_front,
                            progress=lambda m: progress(args, m))
        write_results(summary, args.out, progress=lambda m: progress(args, m))
        c = summary["counts"]
        front = [r for r in summary["trials"] if r.get("pareto")]
        text = (f"{c['total']} trials ({c['ok']} finished, {c['cached']} cached, {c['failed']} failed) in "
                f"{summary['seconds']:,.0f} s on {summary['ray']['parallel_trials']} Ray workers; "
                f"{len(front)} on the front of {', '.join(objectives)}; wrote {Path(args.out) / 'index.html'}, "
                f"trials.csv, trials.json, pareto.json")
        bad = [r for r in summary["trials"] if r.get("verification") and not r["verification"]["passed"]]
        emit(args, summary, text)
        return 1 if bad else 0
    return run


def sweep_command(design):
    """The ``bitforge sweep DESIGN`` command of ``design``."""
    return Command(f"sweep {design.name} configurations on Ray: accuracy, area, energy, fmax", _arguments,
                   _run(design))
