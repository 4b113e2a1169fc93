"""The TaxoNN entry of the design registry: an on-device training accelerator (`accel.taxonn`)."""

from pathlib import Path

from quant.errors import BadInput

from ..command import (begin, emit, progress, check_build_root, restart_if_replacing, liberty_of, report_options,
                       target_options, fit_target, target_line, check_report_args, report_text, SEED, COUNT, COUNT0)
from ..options import add_config_options, config_from_args, SEED_MAX
from ..outdir import check_writable
from . import Design, Command

__all__ = ["DESIGN"]

_DEFAULT_HIDDEN = {"digits": 32, "mnist": 100}
_DATASET_LAYERS = {"layers": "default: the dataset's features, 32 hidden units on digits or 100 on mnist, and its "
                             "10 classes (64,32,10 on digits, 784,100,10 on mnist)"}


def _config_cls():
    from models.taxonn import TaxoNNConfig
    return TaxoNNConfig


def _dataset_config(args, dataset):
    if args.cfg_layers is None and not args.config:
        args.cfg_layers = (dataset.features, _DEFAULT_HIDDEN[args.dataset], dataset.classes)
    return config_from_args(_config_cls(), args)


# -- limits -------------------------------------------------------------------

def _words(cfg):
    return sum(a * b + b for a, b in zip(cfg.layers[:-1], cfg.layers[1:]))


def _rtl_words(cfg, limit, what):
    words = _words(cfg)
    if words > limit:
        raise BadInput(f"--layers {','.join(map(str, cfg.layers))} gives {words:,} weight and bias words; "
                       f"{what} holds at most {limit:,}")
    return words


def check_limits(command, cfg, args, *, dataset=None):
    """Refuse, before any work, a TaxoNN ``command`` over this machine's limits (`bitforge.limits`)."""
    from ..limits import MAX_RTL_WORDS, MAX_REPORT_WORDS, memory, positive, cycles, array_bytes
    if command in ("generate", "simulate"):
        words = _rtl_words(cfg, MAX_RTL_WORDS, "the generated accelerator")
        memory(f"the {','.join(map(str, cfg.layers))} accelerator", words * 2048)
    if command in ("report", "sweep"):
        _rtl_words(cfg, MAX_REPORT_WORDS, "a gate-level report")
    if command == "train":
        # the golden model's int64 weights, gradients and the float reference's copies: ~64 bytes per weight
        memory(f"training {','.join(map(str, cfg.layers))}", _words(cfg) * 64 + array_bytes(dataset))
        positive("--epochs", args.epochs, 100_000)
    if command == "simulate":
        from models.taxonn import schedule
        positive("--samples", args.samples, 10_000_000)
        cycles(f"{args.samples:,} training steps", args.samples * schedule(cfg)["total"], "--samples")


# -- generate / simulate / train / report ------------------------------------------

def _generate_args(p):
    add_config_options(p, _config_cls())
    target_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _generate(args):
    from models.taxonn import schedule
    from ..jobs import write_generated
    cfg = config_from_args(_config_cls(), args)
    check_limits("generate", cfg, args)
    sched = schedule(cfg)
    begin(args)
    fit = fit_target(args, lambda depth: _component(cfg), [0])  # no pipeline option yet: the one depth checked
    figures = {**_figures(cfg), **({"clock_target": fit} if fit else {})}
    manifest = write_generated(lambda: _component(cfg), "taxonn", cfg, args.out, figures)
    return emit(args, manifest, f"wrote {manifest['files'][0]} and {manifest['files'][1]}; "
                f"{sched['total']} cycles per training step on P={cfg.pes}" + target_line(fit))


def _simulate_args(p):
    add_config_options(p, _config_cls(), defaults=_DATASET_LAYERS)
    p.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--samples", type=COUNT, default=200, metavar="N", help="training steps (default 200)")
    p.add_argument("--seed", type=SEED, default=0, help=f"shuffling seed, 0..{SEED_MAX} (default 0)")
    p.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    p.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    p.add_argument("--no-shuffle", action="store_true", help="step i uses training sample i mod N")
    p.add_argument("--vcd", metavar="FILE", help="write the waveform here")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _simulate(args):
    from models.datasets import load_dataset
    from sim.taxonn_run import simulate_taxonn
    dataset = load_dataset(args.dataset, args.data_dir)
    cfg = _dataset_config(args, dataset)
    check_limits("simulate", cfg, args, dataset=dataset)
    if args.vcd:
        check_writable("--vcd", args.vcd)
    check_build_root()
    begin(args)
    report = simulate_taxonn(cfg, dataset, args.sim, args.out, samples=args.samples, seed=args.seed,
                             shuffle=not args.no_shuffle, vcd=args.vcd,
                             progress=lambda msg: progress(args, msg))
    verdict = "weights identical to the golden model" if report["passed"] else \
        f"{report['mismatches']} mismatches; first: {report['first_mismatch']}"
    text = (f"{report['samples']} training steps on {args.sim}: {verdict}; {report['cycles']} cycles "
            f"(model {report['cycles_model']}), {report['cycles_per_s']:.0f} cycles/s; RTL-trained test "
            f"accuracy {100 * report.get('test_accuracy', float('nan')):.2f}%; wrote {Path(args.out) / 'sim.json'}")
    emit(args, report, text)
    return 0 if report["passed"] else 1


def _train_args(t):
    add_config_options(t, _config_cls(), defaults=_DATASET_LAYERS)
    t.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    t.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    t.add_argument("--epochs", type=COUNT, default=1, help="passes over the training set (default 1)")
    t.add_argument("--max-steps", type=COUNT, default=None, metavar="N", help="stop after N steps")
    t.add_argument("--no-shuffle", action="store_true", help="step i uses training sample i mod N")
    t.add_argument("--seed", type=SEED, default=0, help=f"shuffling seed, 0..{SEED_MAX} (default 0)")
    t.add_argument("--float-reference", action="store_true", help="train a float32 reference beside it")
    t.add_argument("--engine", choices=("golden", "torch"), default="golden",
                   help="golden model (NumPy) or the bit-identical torch path")
    t.add_argument("--checkpoint-every", type=COUNT, default=2000, metavar="N",
                   help="checkpoint every N steps, and at every epoch's end (default 2000)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _train(args):
    from models.datasets import load_dataset
    from models.taxonn_train import train_taxonn
    dataset = load_dataset(args.dataset, args.data_dir)
    cfg = _dataset_config(args, dataset)
    check_limits("train", cfg, args, dataset=dataset)
    guard = begin(args, resume=f"the last checkpoint is {Path(args.out) / 'checkpoint.npz'}; run the same command "
                               f"again to resume from it")
    restart_if_replacing(guard, "checkpoint.npz")
    progress(args, f"training TaxoNN {','.join(map(str, cfg.layers))} on {dataset.name} "
                   f"({cfg.rounding} rounding, P={cfg.pes}) into {args.out}")
    metrics = train_taxonn(cfg, dataset, args.out, epochs=args.epochs, max_steps=args.max_steps,
                           shuffle=not args.no_shuffle, seed=args.seed,
                           float_reference=args.float_reference, engine=args.engine,
                           progress=not args.quiet, checkpoint_every=args.checkpoint_every)
    text = (f"{metrics['steps']} steps: test accuracy {100 * metrics['test_accuracy']:.2f}%"
            + (f" (float32 reference {100 * metrics['float_test_accuracy']:.2f}%)"
               if "float_test_accuracy" in metrics else "")
            + f"; {metrics['cycles_per_step']} cycles per step on P={cfg.pes}; wrote {args.out}/")
    return emit(args, metrics, text)


def _report_args(p):
    from ..report import TAXONN_GLITCH_WINDOW, TAXONN_STEPS
    add_config_options(p, _config_cls())
    report_options(p, target=True)
    p.add_argument("--no-compare", action="store_true", help="skip the comparison design")
    p.add_argument("--steps", type=COUNT, default=TAXONN_STEPS, metavar="N",
                   help=f"training steps simulated at gate level (default {TAXONN_STEPS})")
    p.add_argument("--glitch-window", type=COUNT0, default=TAXONN_GLITCH_WINDOW, metavar="N",
                   help=f"training steps also simulated with the netlist's SDF delays on Icarus, for the "
                        f"glitch-aware figure (default {TAXONN_GLITCH_WINDOW}; 0: none)")
    p.add_argument("--no-sweep", action="store_true", help="skip the P x bitwidth sweep")


def _report(args):
    from ..report import check_taxonn_report, taxonn_report
    cfg = config_from_args(_config_cls(), args)
    check_limits("report", cfg, args)
    check_taxonn_report(cfg)
    check_report_args(args)  # the inputs first, then the tools
    liberty = liberty_of(args)
    begin(args)
    report = taxonn_report(cfg, liberty, args.out, clock_mhz=args.clock_mhz, sim=args.sim, steps=args.steps,
                           require_timing=args.require_timing, sram_liberty=args.sram_liberty,
                           compare=not args.no_compare, sweep=not args.no_sweep, glitch_window=args.glitch_window,
                           target_mhz=args.target_mhz, progress=lambda m: progress(args, m))
    return emit(args, report, report_text(report, _report_lines(report), args.out))


def _report_lines(report):
    comp = report.get("comparison")
    if not comp:
        return []
    return [f"baseline (dedicated 16-bit) / TaxoNN: power {comp['power_ratio']:.2f}x (paper 2.1x), "
            f"area {comp['area_ratio']:.2f}x (paper 1.65x)"]


# -- the parts ----------------------------------------------------------------------

def _component(cfg):
    from accel.taxonn import TaxoNN
    return TaxoNN(cfg)


def _golden(cfg):
    from models.taxonn import TaxoNNGolden
    return TaxoNNGolden(cfg)


def _schedule(cfg):
    from models.taxonn import schedule
    return schedule(cfg)


def _job(golden, xs, labels, **kw):
    from sim.taxonn_host import training_job
    return training_job(golden, xs, labels, **kw)


def _workload(cfg, trained=None, size=None, seed=0):
    """``size`` training steps on digits from the initial weights (``trained`` is not used: the workload is
    training itself)."""
    from ..report import taxonn_workload, TAXONN_STEPS
    return taxonn_workload(cfg, size or TAXONN_STEPS, seed)


def _energy(cfg, liberty, **kw):
    from ppa.energy_model import taxonn_energy
    return taxonn_energy(cfg, liberty, **kw)


def _write_report(cfg, liberty, out_dir, **kw):
    from ..report import taxonn_report
    return taxonn_report(cfg, liberty, out_dir, **kw)


# -- sweep trials ------------------------------------------------------------------

def _trial_train(cfg, budget, work_dir):
    """Train on scikit-learn digits with the golden model (the hardware's arithmetic): ``{"accuracy", ...}``."""
    from models.datasets import load_digits
    from models.taxonn_train import train_taxonn
    from ..report import check_taxonn_report
    check_taxonn_report(cfg, "a sweep trial")  # the same digits as the report's workload
    metrics = train_taxonn(cfg, load_digits(), work_dir, epochs=budget["epochs"], max_steps=budget.get("max_steps"),
                           seed=budget.get("seed", 0), progress=False)
    return {"accuracy": float(metrics["test_accuracy"]), "trained": None,
            "accuracy_method": f"golden model (the hardware's arithmetic), test split of scikit-learn digits after "
                               f"{metrics['steps']} online-SGD steps"}


def _trial_verify(cfg, trained, budget, work_dir, sim, samples, build_root=None):
    """``samples`` training steps on digits on the RTL (``sim``) against the golden model."""
    from models.datasets import load_digits
    from sim.taxonn_run import simulate_taxonn
    r = simulate_taxonn(cfg, load_digits(), sim, work_dir, samples=samples, build_root=build_root)
    return {"simulator": sim, "what": f"{r['samples']} training steps", "passed": r["passed"],
            "mismatches": r["mismatches"], "first_mismatch": r.get("first_mismatch"), "cycles": r["cycles"],
            "cycles_model": r["cycles_model"]}


# -- the demo's stage ----------------------------------------------------------------

def demo_config(s):
    """The demo's TaxoNN config (`bitforge.demo.DEMO`'s taxonn entry)."""
    from models.taxonn import TaxoNNConfig
    d = s["taxonn"]
    return TaxoNNConfig(layers=d["layers"], pes=d["pes"], lr_shift=d["lr_shift"])


def _demo(s, out, sim, progress):
    """The demo's TaxoNN stage: trained on digits with the golden model (and a float32 reference), then the same
    training steps on the RTL."""
    from models.datasets import load_digits
    from models.taxonn_train import train_taxonn
    from sim.taxonn_run import simulate_taxonn
    cfg, data = demo_config(s), load_digits()
    epochs = s["taxonn"]["epochs"]
    progress(f"TaxoNN {','.join(map(str, cfg.layers))}: training {epochs} epochs on digits "
             f"(golden model and float32 reference)")
    metrics = train_taxonn(cfg, data, out / "golden", epochs=epochs, float_reference=True, progress=False)
    steps = metrics["steps"] if sim == "verilator" else s["icarus_taxonn_steps"]
    progress(f"TaxoNN: the same {steps} training steps on the RTL ({sim})")
    rtl = simulate_taxonn(cfg, data, sim, out / "rtl", samples=steps, progress=progress)
    return {
        "config": cfg.to_json(), "steps": metrics["steps"],
        "float_accuracy": metrics["float_test_accuracy"], "golden_accuracy": metrics["test_accuracy"],
        "cycles_per_step": metrics["cycles_per_step"], "lower_bound_per_step": metrics["lower_bound_per_step"],
        "rtl": {k: rtl.get(k) for k in ("simulator", "samples", "passed", "mismatches", "first_mismatch", "cycles",
                                        "cycles_model", "cycles_per_s", "test_accuracy", "golden_test_accuracy",
                                        "build_s", "run_s")},
        "files": {"metrics": str(out / "golden" / "metrics.json"), "sim": str(out / "rtl" / "sim.json")},
    }


def _variants(cfg):
    from models.taxonn import baseline_config
    return {"taxonn": cfg, "taxonn-baseline": baseline_config(cfg)}


def _figures(cfg):
    from models.taxonn import schedule
    return {"cycles_per_training_step": schedule(cfg)["total"],
            "cycles_per_inference": schedule(cfg, inference=True)["total"]}


DESIGN = Design(
    name="taxonn", title="TaxoNN: the training accelerator (shared multipliers for forward, backward and update)",
    config=_config_cls(), component=_component, golden=_golden, schedule=_schedule,
    cycles_per_step=lambda cfg: _schedule(cfg)["total"], step="training step",
    job=_job, testbench="sim.tb.taxonn_train_tb", workload=_workload, energy=_energy, report=_write_report,
    report_lines=_report_lines, check_limits=check_limits,
    budget={"epochs": 1, "max_steps": None, "seed": 0},
    train=_trial_train, verify=_trial_verify, demo=_demo, variants=_variants, figures=_figures,
    commands={
        "generate": Command("the TaxoNN training accelerator", _generate_args, _generate),
        "simulate": Command("train TaxoNN on the RTL", _simulate_args, _simulate),
        "train": Command("the TaxoNN MLP, online SGD in fixed point", _train_args, _train),
        "report": Command("TaxoNN vs its dedicated 16-bit baseline", _report_args, _report),
    })
