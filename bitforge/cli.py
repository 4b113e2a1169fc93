"""bitforge: generate, simulate, train and measure low-bitwidth neural-network accelerators.

Every subcommand can print machine-readable JSON (``--json``). Each validates all its inputs, then claims its
output directory (``bitforge.outdir``), then works; a failure is one line on stderr with the exit code of
``bitforge.failures`` (2 bad input, 1 verification failure or internal error, 130 interrupted).
"""

import argparse
import json
import signal
import sys
from pathlib import Path

from quant.errors import BadInput

from . import __version__
from .failures import Failure, classify, report_failure, EXIT_INTERRUPTED
from .jobs import simulate_block, write_generated
from .limits import check_limits
from .options import float_type, int_type, name_options, SEED_MAX
from .report import LSTM_SEQUENCES, TAXONN_STEPS
from .outdir import OutputDir, check_writable

__all__ = ["main", "build_parser"]


class CLIError(BadInput):
    """A user-facing error: printed as one line, exit code 2."""


#: Options that change how a run reports, not what it computes: they never make a directory "another run's".
_VOLATILE = {"func", "json", "quiet", "force", "out", "command", "design", "block", "working", "guard", "resume"}


def _settings(args):
    """What makes two runs of a command the same run: every option but the volatile ones, and the content of
    ``--config``."""
    out = {k: v for k, v in vars(args).items() if k not in _VOLATILE and not k.startswith("_")}
    if getattr(args, "config", None):
        try:
            out["config"] = json.loads(Path(args.config).read_text())
        except (OSError, ValueError):
            pass
    return out


def _check_build_root():
    """The build directory (simulator builds, synthesis caches) must be writable before any work."""
    from quant.fsio import default_build_root
    check_writable("the build directory (BITFORGE_BUILD_DIR, default ./.bitforge-build)", default_build_root(),
                   directory=True)


def _restart_if_replacing(guard, *names):
    """With --force over another run's output, that run's checkpoints are not ours to resume: remove them."""
    if guard.replaces_other_run:
        for name in names:
            (guard.path / name).unlink(missing_ok=True)


def _begin(args, *, resume=None, settings=None):
    """End of validation: claim ``--out`` (lock, ownership record) and start the work phase.

    ``resume``: what an interrupted run leaves and how to resume it (None: nothing is kept)."""
    name = " ".join(x for x in (args.command, getattr(args, "design", None)) if x)
    guard = OutputDir(args.out, name, _settings(args) if settings is None else settings,
                      force=getattr(args, "force", False))
    guard.claim()
    args.guard, args.working, args.resume = guard, True, resume
    return guard


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``bitforge: error: ...``, exit code 2), like every other error."""

    def error(self, message):
        self.exit(2, f"bitforge: error: {message} (see `{self.prog} --help`)\n")


def _emit(args, result, text):
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


def _progress(args, message):
    if not getattr(args, "quiet", False):
        print(f"[bitforge] {message}", file=sys.stderr, flush=True)


# -- generate ---------------------------------------------------------------

def _cmd_generate_block(args):
    from accel.blocks import block_class, build_block
    from rtl.verilog import write_design
    from .options import config_from_args
    config_cls = block_class(args.block)[0]
    cfg = config_from_args(config_cls, args)
    check_limits("generate block", cfg, args)
    _begin(args)
    manifest = write_design(build_block(args.block, cfg), args.block, args.out, cfg.to_json())
    out = Path(args.out)
    manifest["files"] = [str(out / f"{args.block}.v"), str(out / f"{args.block}.json")]
    ports = ", ".join(f"{p['name']}[{p['width']}]" for p in manifest["ports"])
    return _emit(args, manifest, f"wrote {manifest['files'][0]} and {manifest['files'][1]}\n"
                 f"ports: {ports}")


def _cmd_generate_taxonn(args):
    from accel.taxonn import TaxoNN
    from models.taxonn import TaxoNNConfig, schedule
    from .options import config_from_args
    cfg = config_from_args(TaxoNNConfig, args)
    check_limits("generate taxonn", cfg, args)
    sched = schedule(cfg)
    _begin(args)
    manifest = write_generated(lambda: TaxoNN(cfg), "taxonn", cfg, args.out, {
        "cycles_per_training_step": sched["total"],
        "cycles_per_inference": schedule(cfg, inference=True)["total"]})
    return _emit(args, manifest, f"wrote {manifest['files'][0]} and {manifest['files'][1]}; "
                 f"{sched['total']} cycles per training step on P={cfg.pes}")


def _lstm_config(args):
    """LSTMConfig from --config/options; sizes and mode from --weights when given."""
    from models.lstm import LSTMConfig, LSTMWeights
    from .options import config_from_args
    weights = LSTMWeights.load(args.weights) if getattr(args, "weights", None) else None
    if weights is not None:
        for option, field, value in (("--input-size", "input_size", weights.input_size),
                                     ("--hidden", "hidden", weights.hidden), ("--mode", "mode", weights.mode)):
            given = getattr(args, f"cfg_{field}", None)
            if given is not None and given != value:
                raise CLIError(f"{option} {given} contradicts --weights {args.weights!r}, whose network has "
                               f"{field.replace('_', ' ')} {value}: leave {option} out")
            setattr(args, f"cfg_{field}", value)
    return config_from_args(LSTMConfig, args), weights


def _cmd_generate_lstm(args):
    from accel.lstm import LSTM
    from models.lstm import schedule
    cfg, _ = _lstm_config(args)
    check_limits("generate lstm", cfg, args)
    sched = schedule(cfg)
    _begin(args)
    manifest = write_generated(lambda: LSTM(cfg), "lstm", cfg, args.out, {
        "cycles_per_step": sched["cycles_per_step"], "weight_memory_bits": sched["weight_memory_bits"],
        "utilization": sched["utilization"]})
    return _emit(args, manifest, f"wrote {manifest['files'][0]} and {manifest['files'][1]}; {cfg.mode}, "
                 f"{sched['cycles_per_step']} cycles per time step on L={cfg.lanes}, K={cfg.inputs_per_cycle}; "
                 f"weight memory {sched['weight_memory_bits']} bits")


# -- simulate ---------------------------------------------------------------

def _cmd_simulate_block(args):
    from accel.blocks import block_class
    from .options import config_from_args
    cfg = config_from_args(block_class(args.block)[0], args)
    check_limits("simulate block", cfg, args)
    _check_build_root()
    _begin(args)
    _progress(args, f"simulating {args.block} on {args.sim}")
    report = simulate_block(args.block, cfg, args.sim, args.out, seed=args.vector_seed, n_random=args.vectors)
    kind = "exhaustive" if report["exhaustive"] else "random"
    text = (f"{args.block} on {args.sim}: {report['vectors']} {kind} vectors, "
            f"{'0 mismatches' if report['passed'] else 'FAILED: ' + str(report['first_mismatch'])}"
            f" ({report['wall_s']} s); wrote {Path(args.out) / 'sim.json'}")
    _emit(args, report, text)
    return 0 if report["passed"] else 1


def _cmd_simulate_taxonn(args):
    from models.datasets import load_dataset
    from models.taxonn import TaxoNNConfig
    from sim.taxonn_run import simulate_taxonn
    from .options import config_from_args
    dataset = load_dataset(args.dataset, args.data_dir)
    if args.cfg_layers is None and not args.config:
        args.cfg_layers = (dataset.features, _DEFAULT_HIDDEN[args.dataset], dataset.classes)
    cfg = config_from_args(TaxoNNConfig, args)
    check_limits("simulate taxonn", cfg, args, dataset=dataset)
    if args.vcd:
        check_writable("--vcd", args.vcd)
    _check_build_root()
    _begin(args)
    report = simulate_taxonn(cfg, dataset, args.sim, args.out, samples=args.samples, seed=args.seed,
                             shuffle=not args.no_shuffle, vcd=args.vcd,
                             progress=lambda msg: _progress(args, msg))
    verdict = "weights identical to the golden model" if report["passed"] else \
        f"{report['mismatches']} mismatches; first: {report['first_mismatch']}"
    text = (f"{report['samples']} training steps on {args.sim}: {verdict}; {report['cycles']} cycles "
            f"(model {report['cycles_model']}), {report['cycles_per_s']:.0f} cycles/s; RTL-trained test "
            f"accuracy {100 * report.get('test_accuracy', float('nan')):.2f}%; wrote {Path(args.out) / 'sim.json'}")
    _emit(args, report, text)
    return 0 if report["passed"] else 1


def _cmd_simulate_lstm(args):
    from models.lstm_tasks import load_task
    from sim.lstm_run import simulate_lstm
    if not args.weights:
        raise CLIError("simulate lstm needs --weights DIR/lstm.npz (written by `bitforge train lstm`)")
    cfg, weights = _lstm_config(args)
    task = load_task(args.task, args.data_dir) if args.task else None
    check_limits("simulate lstm", cfg, args, task=task)
    _check_build_root()
    _begin(args)
    report = simulate_lstm(cfg, weights, args.sim, args.out, task=task, samples=args.samples, seed=args.seed,
                           progress=lambda msg: _progress(args, msg))
    verdict = "every h_t identical to the golden model" if report["passed"] else \
        f"{report['mismatches']} mismatches, first: {report['first_mismatch']}"
    text = (f"{report['samples']} sequences on {args.sim} ({cfg.mode}): {verdict}; {report['cycles']} cycles "
            f"(model {report['cycles_model']}), {report['cycles_per_s']:.0f} cycles/s")
    if "accuracy" in report:
        text += (f"; accuracy {100 * report['accuracy']:.2f}% (golden model {100 * report['golden_accuracy']:.2f}%, "
                 f"predictions {'identical' if report['predictions_identical'] else 'DIFFERENT'})")
    _emit(args, report, text + f"; wrote {Path(args.out) / 'sim.json'}")
    return 0 if report["passed"] else 1


# -- train ------------------------------------------------------------------

_DEFAULT_HIDDEN = {"digits": 32, "mnist": 100}
_DATASET_LAYERS = {"layers": "default: the dataset's features, 32 hidden units on digits or 100 on mnist, and its "
                             "10 classes (64,32,10 on digits, 784,100,10 on mnist)"}


def _cmd_train_taxonn(args):
    from models.datasets import load_dataset
    from models.taxonn import TaxoNNConfig
    from models.taxonn_train import train_taxonn
    from .options import config_from_args
    dataset = load_dataset(args.dataset, args.data_dir)
    if args.cfg_layers is None and not args.config:
        args.cfg_layers = (dataset.features, _DEFAULT_HIDDEN[args.dataset], dataset.classes)
    cfg = config_from_args(TaxoNNConfig, args)
    check_limits("train taxonn", cfg, args, dataset=dataset)
    guard = _begin(args, resume=f"the last checkpoint is {Path(args.out) / 'checkpoint.npz'}; run the same command "
                                f"again to resume from it")
    _restart_if_replacing(guard, "checkpoint.npz")
    _progress(args, f"training TaxoNN {','.join(map(str, cfg.layers))} on {dataset.name} "
                    f"({cfg.rounding} rounding, P={cfg.pes}) into {args.out}")
    metrics = train_taxonn(cfg, dataset, args.out, epochs=args.epochs, max_steps=args.max_steps,
                           shuffle=not args.no_shuffle, seed=args.seed,
                           float_reference=args.float_reference, engine=args.engine,
                           progress=not args.quiet, checkpoint_every=args.checkpoint_every)
    text = (f"{metrics['steps']} steps: test accuracy {100 * metrics['test_accuracy']:.2f}%"
            + (f" (float32 reference {100 * metrics['float_test_accuracy']:.2f}%)"
               if "float_test_accuracy" in metrics else "")
            + f"; {metrics['cycles_per_step']} cycles per step on P={cfg.pes}; wrote {args.out}/")
    return _emit(args, metrics, text)


def _cmd_train_lstm(args):
    from models.lstm_tasks import load_task
    from models.lstm_train import LSTMTrainConfig, train_lstm, TASK_DEFAULTS
    chosen = dict(TASK_DEFAULTS[args.task])
    for key in ("hidden", "epochs", "batch", "lr", "recurrent_bn"):
        if getattr(args, key) is not None:
            chosen[key] = getattr(args, key)
    try:
        cfg = LSTMTrainConfig(task=args.task, weights=args.weights, stochastic=not args.deterministic,
                              seed=args.seed, seq_len=args.seq_len, checkpoint_every=args.checkpoint_every, **chosen)
    except (TypeError, ValueError) as e:
        raise CLIError(name_options(str(e), LSTMTrainConfig)) from None
    task = load_task(cfg.task, args.data_dir)
    check_limits("train lstm", cfg, args, task=task)
    guard = _begin(args, resume=f"the last checkpoint is {Path(args.out) / 'checkpoint.pt'}; run the same command "
                                f"again to resume from it")
    _restart_if_replacing(guard, "checkpoint.pt")
    _progress(args, f"training a {cfg.weights} LSTM (H={cfg.hidden}, "
                    f"{'deterministic' if args.deterministic else 'stochastic'} quantization) on {cfg.task} "
                    f"into {args.out}")
    metrics = train_lstm(cfg, args.out, task=task, progress=not args.quiet)
    figure = "accuracy" if "test_accuracy" in metrics else "bpc"
    fmt = (lambda v: f"{100 * v:.2f}%") if figure == "accuracy" else (lambda v: f"{v:.4f} BPC")
    text = (f"{cfg.task} {cfg.weights} H={cfg.hidden}: test {figure} {fmt(metrics[f'test_{figure}'])} "
            f"(validation {fmt(metrics[f'valid_{figure}'])}); through the hardware arithmetic "
            f"{fmt(metrics['hardware'][f'test_{figure}'])}; wrote {Path(args.out) / 'metrics.json'} and lstm.npz")
    return _emit(args, metrics, text)


# -- report -----------------------------------------------------------------

def _liberty(args):
    from rtl.liberty import default_liberty
    if args.liberty:
        path = Path(args.liberty)
        if not path.is_file():
            raise CLIError(f"liberty file {str(path)!r} does not exist")
        return path
    return default_liberty(args.library)


def _report_text(report):
    a, p, e = report["area_um2"], report["power_mw"], report["energy"]
    lines = [f"{report['design']}: area {a['total']:,.0f} um^2 ({a['logic']:,.0f} standard cells), power "
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
        lines.append(f"with glitches: dynamic {g['dynamic_mw_with_glitches']:.3f} mW (standard cells {g['ratio']:.3f}x "
                     f"the zero-delay energy on {g['window']}, SDF delays on Icarus)")
    comp = report.get("comparison")
    if comp and "power_ratio" in comp:
        lines.append(f"baseline (dedicated 16-bit) / TaxoNN: power {comp['power_ratio']:.2f}x (paper 2.1x), "
                     f"area {comp['area_ratio']:.2f}x (paper 1.65x)")
    elif comp:
        for m, v in comp["vs_fixed12"].items():
            lines.append(f"fixed12 / {m}: area {v['area_ratio']:.2f}x, power {v['power_ratio']:.2f}x, energy per "
                         f"step {v['energy_per_step_ratio']:.2f}x, weight memory {v['weight_memory_ratio']:.1f}x, "
                         f"throughput at equal area {v['throughput_at_equal_area_ratio']:.2f}x")
    return "\n".join(lines)


def _check_report_args(args):
    """Fail fast, before any work: --sram-liberty, Yosys, OpenSTA, the netlist simulator and the build directory
    (--clock-mhz is a finite positive number by its argparse type)."""
    from ppa.timing import find_sta
    from rtl.synth import find_yosys
    from sim.runner import require_simulator
    if args.sim is None:
        args.sim = "icarus" if args.command == "ppa" else "verilator"
    if args.sram_liberty and not Path(args.sram_liberty).is_file():
        raise CLIError(f"--sram-liberty file {args.sram_liberty!r} does not exist")
    find_yosys()
    find_sta()
    require_simulator(args.sim)
    _check_build_root()


def _cmd_report_taxonn(args):
    from models.taxonn import TaxoNNConfig
    from bitforge.report import check_taxonn_report, taxonn_report
    from .options import config_from_args
    cfg = config_from_args(TaxoNNConfig, args)
    check_limits("report taxonn", cfg, args)
    check_taxonn_report(cfg)
    _check_report_args(args)  # the inputs first, then the tools
    liberty = _liberty(args)
    _begin(args)
    report = taxonn_report(cfg, liberty, args.out, clock_mhz=args.clock_mhz, sim=args.sim, steps=args.steps,
                           require_timing=args.require_timing, sram_liberty=args.sram_liberty,
                           compare=not args.no_compare, sweep=not args.no_sweep,
                           progress=lambda m: _progress(args, m))
    return _emit(args, report, _report_text(report) + f"\nwrote {Path(args.out) / 'report.html'}")


def _cmd_report_lstm(args):
    from bitforge.report import lstm_report, lstm_training_run, trained_lstm_modes
    if args.cfg_input_size is None and not args.config and not args.weights:
        args.cfg_input_size, args.cfg_hidden = 8, args.cfg_hidden or 64
    cfg, weights = _lstm_config(args)
    if weights is None and cfg.input_size != 8:
        raise CLIError(f"without --weights the report trains on seq-digits (8 inputs): --input-size must be 8, "
                       f"not {cfg.input_size}")
    check_limits("report lstm", cfg, args)
    lstm_training_run(cfg, args.weights, compare=not args.no_compare)  # its metrics.json, before any work
    _check_report_args(args)  # the inputs first, then the tools
    liberty = _liberty(args)  # before any training
    _begin(args, resume=f"finished trainings are kept in {Path(args.out) / 'training'}; run the same command "
                        f"again to resume")
    nets, sources = trained_lstm_modes(cfg, args.weights, Path(args.out) / "training", compare=not args.no_compare,
                                       progress=lambda m: _progress(args, m))
    report = lstm_report(cfg, nets, liberty, args.out, clock_mhz=args.clock_mhz, sim=args.sim,
                         require_timing=args.require_timing, sram_liberty=args.sram_liberty, sequences=args.sequences, compare=not args.no_compare, sources=sources,
                         progress=lambda m: _progress(args, m))
    return _emit(args, report, _report_text(report) + f"\nwrote {Path(args.out) / 'report.html'}")


def _report_options(p):
    p.add_argument("--liberty", metavar="FILE", help="a Liberty library (.lib or .lib.gz); default: --library")
    p.add_argument("--library", choices=("sky130", "ihp"), default="ihp",
                   help="a library of the PDK folder ($BITFORGE_PDK, default ../shared/pdk): ihp (default: IHP "
                        "SG13G2 cells with its SRAM macros) or sky130 (cells only)")
    p.add_argument("--sram-liberty", metavar="FILE",
                   help="an SRAM macro Liberty file of the cells' process (default: the PDK's macros of that process)")
    p.add_argument("--clock-mhz", type=float_type(0.0, "a clock in MHz"), default=None, metavar="F",
                   help="clock frequency (default: each design's own fmax, from static timing)")
    p.add_argument("--require-timing", action="store_true",
                   help="fail when the clock is above the design's fmax (default: flag it in the report)")
    p.add_argument("--sim", choices=("verilator", "icarus"), default=None,
                   help="simulator for the gate-level activity: verilator (the default of `report`: the netlist "
                        "compiled, toggles counted at compiled speed) or icarus (the default of `ppa`, whose random "
                        "and zeros stimuli run on it: a VCD read back); both count the same toggles")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


# -- ppa --------------------------------------------------------------------

def _cmd_ppa(args):
    from ppa.flow import estimate_verilog
    from ppa.flow import check_stimulus
    from rtl.synth import read_verilog_sources
    check_limits("ppa", None, args)
    read_verilog_sources(args.verilog, args.top)
    check_stimulus(args.stimulus)
    _check_report_args(args)  # the inputs first, then the tools
    liberty = _liberty(args)
    _begin(args)
    report = estimate_verilog(args.verilog, args.top, liberty, args.out, clock_mhz=args.clock_mhz,
                              require_timing=args.require_timing, cycles=args.cycles, stimulus=args.stimulus,
                              seed=args.seed, sim=args.sim, sram_liberty=args.sram_liberty,
                              progress=lambda m: _progress(args, m))
    a, p, tm = report["area_um2"], report["power_mw"], report["timing"]
    text = (f"{args.top}: fmax {tm['fmax_mhz']:.1f} MHz (critical path {tm['critical_path_ns']:.3f} ns, "
            f"{tm['startpoint']} -> {tm['endpoint']}); at {report['clock_mhz']:g} MHz ({tm['clock_source']}"
            f"{'' if tm['met'] else ', NOT MET'}): area {a['total']:,.0f} um^2, power {p['total']:.4f} mW "
            f"(dynamic {p['dynamic']:.4f}, leakage {p['leakage']:.2g}; zero-delay lower bound) on "
            f"{report['library']['name']}\nwrote {Path(args.out) / 'report.html'}, activity.saif, netlist/")
    return _emit(args, report, text)


# -- demo -------------------------------------------------------------------

def _cmd_demo(args):
    from . import demo
    _begin(args, resume=f"finished stages are kept in {Path(args.out) / 'stages'}; run the same command again to "
                        f"resume from the stage that was interrupted")
    summary = demo.run_demo(args.out, sims=args.sim, progress=lambda m: _progress(args, m),
                            reports=not args.no_reports, quiet=args.quiet)
    _emit(args, summary, demo.format_summary(summary))
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


_SEED = int_type(0, SEED_MAX, "an integer seed")
_COUNT = int_type(1, None, "a positive integer")


def build_parser():
    from models.taxonn import TaxoNNConfig
    from .options import add_config_options
    parser = _Parser(prog="bitforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"bitforge {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument("--force", action="store_true",
                        help="write into an --out that holds other files, another command's output or a run with "
                             "other settings (default: refuse)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    generate = sub.add_parser("generate", help="write Verilog and a JSON manifest")
    gen_sub = generate.add_subparsers(dest="design", metavar="DESIGN", required=True)
    gen_block = gen_sub.add_parser("block", help="a reusable building block")
    for p in _block_parsers(gen_block, common):
        p.add_argument("--out", required=True, metavar="DIR", help="output directory")
        p.set_defaults(func=_cmd_generate_block)

    gen_tx = gen_sub.add_parser("taxonn", parents=[common], help="the TaxoNN training accelerator")
    add_config_options(gen_tx, TaxoNNConfig)
    gen_tx.add_argument("--out", required=True, metavar="DIR", help="output directory")
    gen_tx.set_defaults(func=_cmd_generate_taxonn)

    from models.lstm import LSTMConfig
    gen_lstm = gen_sub.add_parser("lstm", parents=[common], help="the BT-LSTM inference accelerator")
    add_config_options(gen_lstm, LSTMConfig)
    gen_lstm.add_argument("--weights", metavar="NPZ", help="take I, H and the mode from a trained lstm.npz")
    gen_lstm.add_argument("--out", required=True, metavar="DIR", help="output directory")
    gen_lstm.set_defaults(func=_cmd_generate_lstm)

    simulate = sub.add_parser("simulate", help="run generated RTL against the golden model")
    sim_sub = simulate.add_subparsers(dest="design", metavar="DESIGN", required=True)
    sim_block = sim_sub.add_parser("block", help="a reusable building block")
    for p in _block_parsers(sim_block, common):
        p.add_argument("--sim", choices=("verilator", "icarus", "amaranth"), default="verilator")
        p.add_argument("--vector-seed", type=_SEED, default=0, metavar="S", help=f"random-vector seed, 0..{SEED_MAX} (default 0)")
        p.add_argument("--vectors", type=_COUNT, default=None, metavar="N",
                       help="random vectors when not exhaustive (default 10000)")
        p.add_argument("--out", required=True, metavar="DIR", help="output directory")
        p.set_defaults(func=_cmd_simulate_block)

    train = sub.add_parser("train", help="train a network with the accelerator's arithmetic")
    train_sub = train.add_subparsers(dest="design", metavar="DESIGN", required=True)
    t = train_sub.add_parser("taxonn", parents=[common], help="the TaxoNN MLP, online SGD in fixed point")
    add_config_options(t, TaxoNNConfig, defaults=_DATASET_LAYERS)
    t.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    t.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    t.add_argument("--epochs", type=_COUNT, default=1, help="passes over the training set (default 1)")
    t.add_argument("--max-steps", type=_COUNT, default=None, metavar="N", help="stop after N steps")
    t.add_argument("--no-shuffle", action="store_true", help="step i uses training sample i mod N")
    t.add_argument("--seed", type=_SEED, default=0, help=f"shuffling seed, 0..{SEED_MAX} (default 0)")
    t.add_argument("--float-reference", action="store_true", help="train a float32 reference beside it")
    t.add_argument("--engine", choices=("golden", "torch"), default="golden",
                   help="golden model (NumPy) or the bit-identical torch path")
    t.add_argument("--checkpoint-every", type=_COUNT, default=2000, metavar="N",
                   help="checkpoint every N steps, and at every epoch's end (default 2000)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", required=True, metavar="DIR", help="output directory")
    t.set_defaults(func=_cmd_train_taxonn)

    from models.lstm_tasks import TASKS
    from models.btlstm import WEIGHTS, RECURRENT_BN
    tl = train_sub.add_parser("lstm", parents=[common], help="a binary/ternary-weight LSTM with batch norm (BT-LSTM)")
    tl.add_argument("--task", choices=TASKS, default="seq-digits")
    tl.add_argument("--weights", choices=WEIGHTS, default="ternary")
    tl.add_argument("--deterministic", action="store_true",
                    help="quantize deterministically in training too (default: stochastic)")
    tl.add_argument("--hidden", type=_COUNT, metavar="H", help="hidden units (default per task)")
    tl.add_argument("--epochs", type=_COUNT, metavar="N", help="default per task")
    tl.add_argument("--batch", type=_COUNT, metavar="B", help="default per task")
    tl.add_argument("--lr", type=float_type(0.0, "a learning rate"), metavar="LR", help="Adam learning rate (default per task)")
    tl.add_argument("--recurrent-bn", choices=RECURRENT_BN,
                    help="statistics of BN_h and BN_c in training: running (default) or per-step batch "
                         "(default for ptb-char); see docs/lstm.md")
    tl.add_argument("--seq-len", type=_COUNT, default=100, metavar="S",
                    help="characters per truncated-BPTT chunk (ptb-char; default 100)")
    tl.add_argument("--seed", type=_SEED, default=0, help=f"initialization and shuffling seed, 0..{SEED_MAX} (default 0)")
    tl.add_argument("--checkpoint-every", type=_COUNT, default=200, metavar="N",
                    help="also checkpoint every N batches (default 200)")
    tl.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    tl.add_argument("--quiet", action="store_true", help="no progress bar")
    tl.add_argument("--out", required=True, metavar="DIR", help="output directory")
    tl.set_defaults(func=_cmd_train_lstm)

    sim_tx = sim_sub.add_parser("taxonn", parents=[common], help="train TaxoNN on the RTL")
    add_config_options(sim_tx, TaxoNNConfig, defaults=_DATASET_LAYERS)
    sim_tx.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    sim_tx.add_argument("--samples", type=_COUNT, default=200, metavar="N", help="training steps (default 200)")
    sim_tx.add_argument("--seed", type=_SEED, default=0, help=f"shuffling seed, 0..{SEED_MAX} (default 0)")
    sim_tx.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    sim_tx.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    sim_tx.add_argument("--no-shuffle", action="store_true", help="step i uses training sample i mod N")
    sim_tx.add_argument("--vcd", metavar="FILE", help="write the waveform here")
    sim_tx.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sim_tx.set_defaults(func=_cmd_simulate_taxonn)

    sim_lstm = sim_sub.add_parser("lstm", parents=[common], help="run a trained BT-LSTM on the RTL")
    add_config_options(sim_lstm, LSTMConfig)
    sim_lstm.add_argument("--weights", metavar="NPZ", help="a trained lstm.npz (sets I, H and the mode)")
    sim_lstm.add_argument("--task", choices=("seq-digits", "seq-digits-pixel", "row-mnist", "pixel-mnist"),
                          help="run its test sequences and report accuracy (default: random inputs)")
    sim_lstm.add_argument("--samples", type=_COUNT, default=20, metavar="N", help="sequences (default 20)")
    sim_lstm.add_argument("--seed", type=_SEED, default=0, help=f"0 (default): the first N test samples; 1..{SEED_MAX}: a random draw")
    sim_lstm.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    sim_lstm.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    sim_lstm.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sim_lstm.set_defaults(func=_cmd_simulate_lstm)

    ppa = sub.add_parser("ppa", parents=[common], help="power, performance and area of any synthesizable Verilog")
    ppa.add_argument("--verilog", nargs="+", required=True, metavar="FILE", help="Verilog source files")
    ppa.add_argument("--top", required=True, metavar="NAME", help="the top module")
    ppa.add_argument("--cycles", type=_COUNT, default=1000, metavar="N", help="cycles of stimulus (default 1000)")
    ppa.add_argument("--stimulus", default="random", metavar="random|zeros|MODULE",
                     help="a seeded random value on every input each cycle (default), all zeros, or a cocotb "
                          "test module driving the netlist")
    ppa.add_argument("--seed", type=_SEED, default=0, help=f"seed of the random stimulus, 0..{SEED_MAX} (default 0)")
    _report_options(ppa)
    ppa.set_defaults(func=_cmd_ppa)

    report = sub.add_parser("report", help="area, power and energy reports (Yosys + gate-level simulation)")
    rep_sub = report.add_subparsers(dest="design", metavar="DESIGN", required=True)
    rep_tx = rep_sub.add_parser("taxonn", parents=[common], help="TaxoNN vs its dedicated 16-bit baseline")
    add_config_options(rep_tx, TaxoNNConfig)
    _report_options(rep_tx)
    rep_tx.add_argument("--no-compare", action="store_true", help="skip the comparison design")
    rep_tx.add_argument("--steps", type=_COUNT, default=TAXONN_STEPS, metavar="N",
                        help=f"training steps simulated at gate level (default {TAXONN_STEPS})")
    rep_tx.add_argument("--no-sweep", action="store_true", help="skip the P x bitwidth sweep")
    rep_tx.set_defaults(func=_cmd_report_taxonn)
    rep_lstm = rep_sub.add_parser("lstm", parents=[common], help="BT-LSTM binary/ternary vs fixed12")
    add_config_options(rep_lstm, LSTMConfig, defaults={"input_size": "default 8, or the --weights' inputs",
                                                       "hidden": "default 64, or the --weights' hidden units",
                                                       "mode": "default ternary, or the --weights' mode"})
    rep_lstm.add_argument("--weights", metavar="NPZ",
                          help="a trained lstm.npz (sets I, H and the mode); the other modes are trained by the "
                               "same run (its metrics.json beside it) into OUT/training; default: all modes "
                               "trained on seq-digits")
    rep_lstm.add_argument("--sequences", type=_COUNT, default=LSTM_SEQUENCES, metavar="N",
                          help=f"input sequences simulated at gate level (default {LSTM_SEQUENCES})")
    _report_options(rep_lstm)
    rep_lstm.add_argument("--no-compare", action="store_true", help="skip the comparison designs")
    rep_lstm.set_defaults(func=_cmd_report_lstm)

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
