"""The BT-LSTM entry of the design registry: a binary/ternary-weight LSTM inference accelerator (`accel.lstm`)."""

from pathlib import Path

from quant.errors import BadInput

from ..command import (CLIError, begin, emit, progress, check_build_root, restart_if_replacing, liberty_of,
                       report_options, target_options, fit_target, target_line, check_report_args, report_text,
                       SEED, COUNT, COUNT0)
from ..options import add_config_options, config_from_args, float_type, int_type, name_options, SEED_MAX
from . import Design, Command

__all__ = ["DESIGN"]


def _config_cls():
    from models.lstm import LSTMConfig
    return LSTMConfig


def _config(args):
    """LSTMConfig from --config/options; sizes and mode from --weights when given."""
    from models.lstm import LSTMWeights
    weights = LSTMWeights.load(args.weights) if getattr(args, "weights", None) else None
    if weights is not None:
        for option, field, value in (("--input-size", "input_size", weights.input_size),
                                     ("--hidden", "hidden", weights.hidden), ("--mode", "mode", weights.mode)):
            given = getattr(args, f"cfg_{field}", None)
            if given is not None and given != value:
                raise CLIError(f"{option} {given} contradicts --weights {args.weights!r}, whose network has "
                               f"{field.replace('_', ' ')} {value}: leave {option} out")
            setattr(args, f"cfg_{field}", value)
    return config_from_args(_config_cls(), args), weights


# -- limits -------------------------------------------------------------------

def _train_bytes(cfg, task):
    """Parameters, their gradients, Adam's two moments and the quantized copies (6 float32 each), plus the
    activations autograd keeps for one batch (about 24 floats per gate unit and time step)."""
    from ..limits import array_bytes
    inputs, classes = task.input_size, task.classes
    params = 4 * cfg.hidden * (inputs + cfg.hidden) + 10 * cfg.hidden + (cfg.hidden + 1) * classes
    steps = cfg.seq_len if task.kind == "lm" else task.steps
    acts = cfg.batch * steps * 4 * cfg.hidden * 24
    return 4 * (6 * params + acts) + array_bytes(task)


def check_limits(command, cfg, args, *, task=None):
    """Refuse, before any work, a BT-LSTM ``command`` over this machine's limits (`bitforge.limits`)."""
    from ..limits import MAX_RTL_WORDS, MAX_REPORT_WORDS, memory, positive, cycles
    if command in ("generate", "simulate", "report", "sweep"):
        # the RTL pads lanes beyond H and chunks beyond max(I, H) with idle hardware: refused here, where a user
        # chose them, rather than in the config (tests exercise the padding)
        if cfg.lanes > cfg.hidden:
            raise BadInput(f"--lanes must be at most --hidden ({cfg.hidden}): each lane computes one hidden unit, "
                           f"not {cfg.lanes}")
        if cfg.inputs_per_cycle > max(cfg.input_size, cfg.hidden):
            raise BadInput(f"--inputs-per-cycle must be at most the larger of --input-size and --hidden "
                           f"({max(cfg.input_size, cfg.hidden)}): it chunks x and h, not {cfg.inputs_per_cycle}")
        words = 4 * cfg.hidden * (cfg.input_size + cfg.hidden)
        limit = MAX_REPORT_WORDS if command in ("report", "sweep") else MAX_RTL_WORDS
        if words > limit:
            raise BadInput(f"--input-size {cfg.input_size} --hidden {cfg.hidden} gives {words:,} weights; "
                           f"{'a gate-level report' if limit == MAX_REPORT_WORDS else 'the generated accelerator'} "
                           f"holds at most {limit:,}")
    if command == "simulate":
        from models.lstm import schedule
        available = len(task.x_test) if task is not None else None
        if available is not None and args.samples > available:
            raise BadInput(f"--samples {args.samples} is more than the {available} test sequences of {args.task}")
        positive("--samples", args.samples, 1_000_000)
        steps = task.steps if task is not None else 8
        cycles(f"{args.samples:,} sequences", args.samples * steps * schedule(cfg)["cycles_per_step"], "--samples")
    if command == "train":
        memory(f"training an H={cfg.hidden} LSTM on {cfg.task} (batch {cfg.batch})", _train_bytes(cfg, task))


# -- generate / simulate / train / report ------------------------------------------

def _generate_args(p):
    add_config_options(p, _config_cls())
    p.add_argument("--weights", metavar="NPZ", help="take I, H and the mode from a trained lstm.npz")
    target_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _generate(args):
    import dataclasses
    from models.lstm import schedule, MAX_PIPELINE
    from ..jobs import write_generated
    cfg, _ = _config(args)
    check_limits("generate", cfg, args)
    begin(args)
    fit = fit_target(args, lambda depth: _component(dataclasses.replace(cfg, pipeline=depth)),
                     range(MAX_PIPELINE + 1))
    if fit is not None:
        cfg = dataclasses.replace(cfg, pipeline=fit["depth"])
    sched = schedule(cfg)
    figures = {**_figures(cfg), **({"clock_target": fit} if fit else {})}
    manifest = write_generated(lambda: _component(cfg), "lstm", cfg, args.out, figures)
    return emit(args, manifest, f"wrote {manifest['files'][0]} and {manifest['files'][1]}; {cfg.mode}, "
                f"{sched['cycles_per_step']} cycles per time step on L={cfg.lanes}, K={cfg.inputs_per_cycle}; "
                f"weight memory {sched['weight_memory_bits']} bits" + target_line(fit))


def _simulate_args(p):
    add_config_options(p, _config_cls())
    p.add_argument("--weights", metavar="NPZ", help="a trained lstm.npz (sets I, H and the mode)")
    p.add_argument("--task", choices=("seq-digits", "seq-digits-pixel", "row-mnist", "pixel-mnist"),
                   help="run its test sequences and report accuracy (default: random inputs)")
    p.add_argument("--samples", type=COUNT, default=20, metavar="N", help="sequences (default 20)")
    p.add_argument("--seed", type=SEED, default=0,
                   help=f"0 (default): the first N test samples; 1..{SEED_MAX}: a random draw")
    p.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    p.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _simulate(args):
    from models.lstm_tasks import load_task
    from sim.lstm_run import simulate_lstm
    if not args.weights:
        raise CLIError("simulate lstm needs --weights DIR/lstm.npz (written by `bitforge train lstm`)")
    cfg, weights = _config(args)
    task = load_task(args.task, args.data_dir) if args.task else None
    check_limits("simulate", cfg, args, task=task)
    check_build_root()
    begin(args)
    report = simulate_lstm(cfg, weights, args.sim, args.out, task=task, samples=args.samples, seed=args.seed,
                           progress=lambda msg: progress(args, msg))
    verdict = "every h_t identical to the golden model" if report["passed"] else \
        f"{report['mismatches']} mismatches, first: {report['first_mismatch']}"
    text = (f"{report['samples']} sequences on {args.sim} ({cfg.mode}): {verdict}; {report['cycles']} cycles "
            f"(model {report['cycles_model']}), {report['cycles_per_s']:.0f} cycles/s")
    if "accuracy" in report:
        text += (f"; accuracy {100 * report['accuracy']:.2f}% (golden model {100 * report['golden_accuracy']:.2f}%, "
                 f"predictions {'identical' if report['predictions_identical'] else 'DIFFERENT'})")
    emit(args, report, text + f"; wrote {Path(args.out) / 'sim.json'}")
    return 0 if report["passed"] else 1


def _train_args(tl):
    from models.lstm_tasks import TASKS
    from models.btlstm import WEIGHTS, RECURRENT_BN, BN_STATS
    tl.add_argument("--task", choices=TASKS, default="seq-digits")
    tl.add_argument("--weights", choices=WEIGHTS, default="ternary")
    tl.add_argument("--deterministic", action="store_true",
                    help="quantize deterministically in training too (default: stochastic)")
    tl.add_argument("--hidden", type=COUNT, metavar="H", help="hidden units (default per task)")
    tl.add_argument("--epochs", type=COUNT, metavar="N", help="default per task")
    tl.add_argument("--batch", type=COUNT, metavar="B", help="default per task")
    tl.add_argument("--lr", type=float_type(0.0, "a learning rate"), metavar="LR",
                    help="Adam learning rate (default per task)")
    tl.add_argument("--recurrent-bn", choices=RECURRENT_BN,
                    help="statistics of BN_h and BN_c in training: running (default) or per-step batch "
                         "(default for ptb-char); see docs/lstm.md")
    tl.add_argument("--bn-stats", choices=BN_STATS, default="shared",
                    help="batch-norm statistics shared by every step (default) or kept per step as the authors' "
                         "code does (exported pooled); see docs/lstm.md")
    tl.add_argument("--lr-final", type=float_type(0.0, "a learning rate"), metavar="LR",
                    help="decay the learning rate geometrically per epoch to LR (default: constant)")
    tl.add_argument("--clip-step", action="store_true",
                    help="clip each quantized weight's Adam step to +-W0 (the authors' binary training)")
    tl.add_argument("--ternary-threshold", type=float_type(0.0, "a fraction of W0"), default=0.5, metavar="T",
                    help="deterministic ternary threshold as a fraction of W0 (default 0.5; the authors' 1/3)")
    tl.add_argument("--seq-len", type=COUNT, default=100, metavar="S",
                    help="characters per truncated-BPTT chunk (ptb-char; default 100)")
    tl.add_argument("--seed", type=SEED, default=0,
                    help=f"initialization and shuffling seed, 0..{SEED_MAX} (default 0)")
    tl.add_argument("--checkpoint-every", type=COUNT, default=200, metavar="N",
                    help="also checkpoint every N batches (default 200)")
    tl.add_argument("--data-dir", metavar="DIR", help="dataset directory (default $BITFORGE_DATA)")
    tl.add_argument("--quiet", action="store_true", help="no progress bar")
    tl.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _train(args):
    from models.lstm_tasks import load_task
    from models.lstm_train import LSTMTrainConfig, train_lstm, TASK_DEFAULTS
    chosen = dict(TASK_DEFAULTS[args.task])
    for key in ("hidden", "epochs", "batch", "lr", "recurrent_bn"):
        if getattr(args, key) is not None:
            chosen[key] = getattr(args, key)
    try:
        cfg = LSTMTrainConfig(task=args.task, weights=args.weights, stochastic=not args.deterministic,
                              seed=args.seed, seq_len=args.seq_len, checkpoint_every=args.checkpoint_every,
                              bn_stats=args.bn_stats, lr_final=args.lr_final, clip_step=args.clip_step,
                              ternary_threshold=args.ternary_threshold, **chosen)
    except (TypeError, ValueError) as e:
        raise CLIError(name_options(str(e), LSTMTrainConfig)) from None
    task = load_task(cfg.task, args.data_dir)
    check_limits("train", cfg, args, task=task)
    guard = begin(args, resume=f"the last checkpoint is {Path(args.out) / 'checkpoint.pt'}; run the same command "
                               f"again to resume from it")
    restart_if_replacing(guard, "checkpoint.pt")
    progress(args, f"training a {cfg.weights} LSTM (H={cfg.hidden}, "
                   f"{'deterministic' if args.deterministic else 'stochastic'} quantization) on {cfg.task} "
                   f"into {args.out}")
    metrics = train_lstm(cfg, args.out, task=task, progress=not args.quiet)
    figure = "accuracy" if "test_accuracy" in metrics else "bpc"
    fmt = (lambda v: f"{100 * v:.2f}%") if figure == "accuracy" else (lambda v: f"{v:.4f} BPC")
    text = (f"{cfg.task} {cfg.weights} H={cfg.hidden}: test {figure} {fmt(metrics[f'test_{figure}'])} "
            f"(validation {fmt(metrics[f'valid_{figure}'])}); through the hardware arithmetic "
            f"{fmt(metrics['hardware'][f'test_{figure}'])}; wrote {Path(args.out) / 'metrics.json'} and lstm.npz")
    return emit(args, metrics, text)


def _report_args(p):
    from ..report import LSTM_GLITCH_WINDOW, LSTM_SEQUENCES
    add_config_options(p, _config_cls(), defaults={"input_size": "default 8, or the --weights' inputs",
                                                   "hidden": "default 64, or the --weights' hidden units",
                                                   "mode": "default ternary, or the --weights' mode"})
    p.add_argument("--weights", metavar="NPZ",
                   help="a trained lstm.npz (sets I, H and the mode); the other modes are trained by the "
                        "same run (its metrics.json beside it) into OUT/training; default: all modes "
                        "trained on seq-digits")
    p.add_argument("--sequences", type=COUNT, default=LSTM_SEQUENCES, metavar="N",
                   help=f"input sequences simulated at gate level (default {LSTM_SEQUENCES})")
    p.add_argument("--glitch-window", type=COUNT0, default=LSTM_GLITCH_WINDOW, metavar="N",
                   help=f"time steps of the first sequence also simulated with the netlist's SDF delays on "
                        f"Icarus, for the glitch-aware figure (default {LSTM_GLITCH_WINDOW}; 0: none)")
    p.add_argument("--jobs", type=int_type(1, 8, "a process count"), default=2, metavar="N",
                   help="modes synthesized and simulated at a time, each in its own process (default 2)")
    report_options(p, target=True)
    p.add_argument("--no-compare", action="store_true", help="skip the comparison designs")


def _report(args):
    from ..report import lstm_report, lstm_training_run, trained_lstm_modes
    if args.cfg_input_size is None and not args.config and not args.weights:
        args.cfg_input_size, args.cfg_hidden = 8, args.cfg_hidden or 64
    cfg, weights = _config(args)
    if weights is None and cfg.input_size != 8:
        raise CLIError(f"without --weights the report trains on seq-digits (8 inputs): --input-size must be 8, "
                       f"not {cfg.input_size}")
    check_limits("report", cfg, args)
    lstm_training_run(cfg, args.weights, compare=not args.no_compare)  # its metrics.json, before any work
    check_report_args(args)  # the inputs first, then the tools
    liberty = liberty_of(args)  # before any training
    begin(args, resume=f"finished trainings are kept in {Path(args.out) / 'training'}; run the same command "
                       f"again to resume")
    nets, sources = trained_lstm_modes(cfg, args.weights, Path(args.out) / "training", compare=not args.no_compare,
                                       progress=lambda m: progress(args, m))
    report = lstm_report(cfg, nets, liberty, args.out, clock_mhz=args.clock_mhz, sim=args.sim,
                         require_timing=args.require_timing, sram_liberty=args.sram_liberty,
                         sequences=args.sequences, compare=not args.no_compare, sources=sources,
                         glitch_window=args.glitch_window, workers=args.jobs, target_mhz=args.target_mhz,
                         progress=lambda m: progress(args, m))
    return emit(args, report, report_text(report, _report_lines(report), args.out))


def _report_lines(report):
    comp = report.get("comparison")
    if not comp:
        return []
    return [f"fixed12 / {m}: area {v['area_ratio']:.2f}x, power {v['power_ratio']:.2f}x, energy per step "
            f"{v['energy_per_step_ratio']:.2f}x, weight memory {v['weight_memory_ratio']:.1f}x, throughput at "
            f"equal area {v['throughput_at_equal_area_ratio']:.2f}x" for m, v in comp["vs_fixed12"].items()]


# -- the parts ----------------------------------------------------------------------

def _component(cfg):
    from accel.lstm import LSTM
    return LSTM(cfg)


def _golden(cfg, weights):
    from models.lstm import LSTMGolden
    return LSTMGolden(cfg, weights)


def _schedule(cfg):
    from models.lstm import schedule
    return schedule(cfg)


def _job(golden, xs):
    from sim.lstm_host import lstm_job
    return lstm_job(golden, xs)


def _workload(cfg, trained, size=None, seed=0):
    """``size`` input sequences run by the network ``trained`` (`LSTMWeights` or the path of its lstm.npz)."""
    from models.lstm import LSTMWeights
    from ..report import lstm_workload, LSTM_SEQUENCES
    weights = LSTMWeights.load(trained) if isinstance(trained, (str, Path)) else trained
    return lstm_workload(cfg, weights, size or LSTM_SEQUENCES, seed)


def _energy(cfg, liberty, **kw):
    from ppa.energy_model import lstm_energy
    return lstm_energy(cfg, liberty, **kw)


def _write_report(cfg, weights, liberty, out_dir, **kw):
    from ..report import lstm_report
    return lstm_report(cfg, weights, liberty, out_dir, **kw)


# -- sweep trials ------------------------------------------------------------------

def _trial_train(cfg, budget, work_dir):
    """Train a network of ``cfg.mode`` (fixed12: the float network exported to 12 bits) on the budget's task;
    accuracy through the hardware arithmetic. Trials that differ only in the datapath (L, K, M) train the same
    network: it is trained once, in ``budget["shared_dir"]`` when given."""
    import json
    from models.lstm_train import LSTMTrainConfig, train_lstm, TASK_DEFAULTS, EXPORT_MODE
    from models.lstm_tasks import load_task
    from quant.fsio import exclusive_lock
    task_name = budget.get("task", "seq-digits")
    if task_name not in ("seq-digits", "seq-digits-pixel"):
        raise BadInput(f"a sweep trial trains on seq-digits or seq-digits-pixel (bundled with scikit-learn), "
                       f"not {task_name!r}")
    task = load_task(task_name)
    if cfg.input_size != task.input_size:
        raise BadInput(f"input_size must be {task.input_size} for {task_name}, not {cfg.input_size}")
    training = {v: k for k, v in EXPORT_MODE.items()}[cfg.mode]
    defaults = dict(TASK_DEFAULTS[task_name])
    defaults.update(hidden=cfg.hidden, epochs=budget["epochs"], seed=budget.get("seed", 0))
    run = LSTMTrainConfig(task=task_name, weights=training, **defaults)
    run_dir = Path(budget["shared_dir"]) / _key(run.to_json()) if budget.get("shared_dir") else Path(work_dir)
    metrics_path = run_dir / "metrics.json"
    with exclusive_lock(run_dir / ".lock"):  # two trials never train one network at once
        if metrics_path.is_file() and (run_dir / "lstm.npz").is_file():
            metrics = json.loads(metrics_path.read_text())
        else:
            metrics = train_lstm(run, run_dir, task=task, progress=False)
    return {"accuracy": float(metrics["hardware"]["test_accuracy"]), "trained": str(run_dir / "lstm.npz"),
            "accuracy_method": f"{task_name} test split through the hardware arithmetic (golden model), "
                               f"{training} training exported as {cfg.mode}, {budget['epochs']} epochs, "
                               f"seed {budget.get('seed', 0)}"}


def _key(data):
    import hashlib
    import json
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _trial_verify(cfg, trained, budget, work_dir, sim, samples, build_root=None):
    """``samples`` test sequences of the budget's task, run by the trained network on the RTL (``sim``) against
    the golden model."""
    from models.lstm import LSTMWeights
    from models.lstm_tasks import load_task
    from sim.lstm_run import simulate_lstm
    task = load_task(budget.get("task", "seq-digits"))
    r = simulate_lstm(cfg, LSTMWeights.load(trained), sim, work_dir, task=task, samples=samples, build_root=build_root)
    return {"simulator": sim, "what": f"{r['samples']} test sequences", "passed": r["passed"],
            "mismatches": r["mismatches"], "first_mismatch": r.get("first_mismatch"), "cycles": r["cycles"],
            "cycles_model": r["cycles_model"]}


# -- the demo's stage ----------------------------------------------------------------

def train_demo_network(s, out, weights, hidden, progress):
    """The demo's BT-LSTM training run (`bitforge.demo.DEMO`'s lstm entry) at ``hidden`` units in ``weights``."""
    from models.lstm_train import LSTMTrainConfig, train_lstm
    from models.lstm_train import TASK_DEFAULTS
    d = s["lstm"]
    settings = {**TASK_DEFAULTS[d["task"]], "hidden": hidden, "epochs": d["epochs"]}
    cfg = LSTMTrainConfig(task=d["task"], weights=weights, **settings)
    progress(f"BT-LSTM: training a {weights} H={hidden} LSTM on {d['task']} ({d['epochs']} epochs)")
    return train_lstm(cfg, out, progress=False)


def _demo(s, out, sim, progress):
    """The demo's BT-LSTM stage: a float and a quantized network trained on the task, then the test split on the
    RTL, every h_t compared."""
    from models.lstm import LSTMConfig, LSTMWeights
    from models.lstm_tasks import load_task
    from sim.lstm_run import simulate_lstm
    d = s["lstm"]
    fp = train_demo_network(s, out / "float", "fp", d["hidden"], progress)
    q = train_demo_network(s, out / d["weights"], d["weights"], d["hidden"], progress)
    weights = LSTMWeights.load(out / d["weights"] / "lstm.npz")
    cfg = LSTMConfig(input_size=weights.input_size, hidden=weights.hidden, mode=weights.mode)
    task = load_task(d["task"])
    samples = len(task.x_test) if sim == "verilator" else s["icarus_lstm_sequences"]
    progress(f"BT-LSTM: {samples} test sequences on the RTL ({sim})")
    rtl = simulate_lstm(cfg, weights, sim, out / "rtl", task=task, samples=samples, progress=progress)
    return {
        "config": cfg.to_json(), "task": d["task"], "mode": weights.mode,
        "float_accuracy": fp["test_accuracy"], "quantized_accuracy": q["test_accuracy"],
        "hardware_accuracy": q["hardware"]["test_accuracy"], "weight_memory_bits": q["weight_memory_bits"],
        "rtl": {k: rtl.get(k) for k in ("simulator", "samples", "passed", "mismatches", "first_mismatch", "cycles",
                                        "cycles_model", "cycles_per_s", "accuracy", "golden_accuracy",
                                        "predictions_identical", "build_s", "run_s")},
        "files": {"weights": str(out / d["weights"] / "lstm.npz"), "metrics": str(out / d["weights"] / "metrics.json"),
                  "float_metrics": str(out / "float" / "metrics.json"), "sim": str(out / "rtl" / "sim.json")},
    }


def _variants(cfg):
    import dataclasses
    return {f"lstm-{cfg.mode}": cfg, "lstm-fixed12": dataclasses.replace(cfg, mode="fixed12")}


def _figures(cfg):
    from models.lstm import schedule
    sched = schedule(cfg)
    return {"cycles_per_step": sched["cycles_per_step"], "weight_memory_bits": sched["weight_memory_bits"],
            "utilization": sched["utilization"]}


DESIGN = Design(
    name="lstm", title="BT-LSTM: binary/ternary-weight LSTM inference (add/subtract/skip arrays, shared post units)",
    config=_config_cls(), component=_component, golden=_golden, schedule=_schedule,
    cycles_per_step=lambda cfg: _schedule(cfg)["cycles_per_step"], step="time step",
    job=_job, testbench="sim.tb.lstm_tb", workload=_workload, energy=_energy, report=_write_report,
    report_lines=_report_lines, check_limits=check_limits,
    budget={"epochs": 2, "task": "seq-digits", "seed": 0},
    train=_trial_train, verify=_trial_verify, demo=_demo, variants=_variants, figures=_figures,
    commands={
        "generate": Command("the BT-LSTM inference accelerator", _generate_args, _generate),
        "simulate": Command("run a trained BT-LSTM on the RTL", _simulate_args, _simulate),
        "train": Command("a binary/ternary-weight LSTM with batch norm (BT-LSTM)", _train_args, _train),
        "report": Command("BT-LSTM binary/ternary vs fixed12", _report_args, _report),
    })
