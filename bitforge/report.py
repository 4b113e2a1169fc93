"""``bitforge report {taxonn,lstm}``: area, power and energy reports with the papers' comparisons.

Each report: the design synthesized to a Liberty library, its netlist simulated
on a real workload (TaxoNN: training steps on scikit-learn digits; BT-LSTM:
inference on sequential-digit test sequences), gate-level power per block and
phase, the fast energy model beside it, the comparison design from the same
generator on the same library and workload, and (TaxoNN) a sweep of P and the
bitwidth against accuracy. Writes report.json, report.md, report.html (plots
embedded) and the plots as PNG files.
"""

import dataclasses
from pathlib import Path

from quant.errors import BadInput, first_line

import numpy as np

from ppa.pages import write_report
from quant.fsio import ensure_dir

__all__ = ["taxonn_report", "taxonn_design_figures", "taxonn_design_in_worker", "TAXONN_DESIGNS", "CLOCK_GOAL_MHZ",
           "clock_goal", "lstm_report", "lstm_mode_figures", "trained_lstm_modes", "LSTM_MODES", "PAPER"]

PAPER = {"taxonn": {"power": 2.1, "area": 1.65},
         "lstm": {"memory": 12.0, "speedup": 10.0}}

#: the default workloads: enough runs for a stable mean (each report states min, max and their spread);
#: at compiled speed (`ppa.native`) they take seconds to minutes of simulation
TAXONN_STEPS = 100
LSTM_SEQUENCES = 50
#: the steps at the start of the workload (TaxoNN training steps, LSTM time steps of the first sequence)
#: also simulated with the netlist's delays (`ppa.glitch`): Icarus with SDF runs at event speed, so a
#: window, not the workload
TAXONN_GLITCH_WINDOW = 2
LSTM_GLITCH_WINDOW = 1


#: the clock both designs are to meet (on sky130 HD and IHP SG13G2 typical); a report run without
#: ``target_mhz`` states whether its netlist meets it and, where not, the path that prevents it (`clock_goal`)
CLOCK_GOAL_MHZ = 200.0


def clock_goal(fig, depth, deeper=()):
    """``{"goal_mhz", "met", "depth", "fmax_mhz", "critical_path_ns", "levels", "startpoint", "endpoint",
    "deeper"}``: whether the measured netlist (``fig``, synthesized at pipeline ``depth``, None for a design
    without the option) meets `CLOCK_GOAL_MHZ`, its critical path (the one that prevents it when not), and the
    ``deeper`` pipeline depths that ``--target-mhz`` would try. No synthesis: the report's own timing."""
    tm = fig["timing"]
    return {"goal_mhz": CLOCK_GOAL_MHZ, "met": tm["fmax_mhz"] >= CLOCK_GOAL_MHZ, "depth": depth,
            "fmax_mhz": tm["fmax_mhz"], "critical_path_ns": tm["critical_path_ns"], "levels": tm["levels"],
            "startpoint": tm["startpoint"], "endpoint": tm["endpoint"],
            "deeper": [d for d in deeper if d > (depth or 0)]}


def _say(progress, message):
    if progress:
        progress(message)


def _inventory(component):
    from rtl.verilog import generate_verilog, design_inventory
    return design_inventory(generate_verilog(component, "top"))


# -- TaxoNN -------------------------------------------------------------------

def check_taxonn_report(cfg, who="the report"):
    """The report's workload (and a sweep trial, ``who``) trains on scikit-learn digits: ``cfg`` must fit them
    (else ``BadInput``)."""
    if cfg.layers[0] != 64 or cfg.layers[-1] != 10:
        raise BadInput(f"{who} trains on scikit-learn digits: --layers must start with 64 and end with 10, "
                       f"not {','.join(map(str, cfg.layers))}")


def taxonn_workload(cfg, steps, seed):
    from accel.taxonn import PHASES
    from models.datasets import load_digits, sample_order
    from models.taxonn import TaxoNNGolden
    from ppa.estimate import Workload
    from sim.taxonn_host import training_job
    data = load_digits()
    check_taxonn_report(cfg)
    idx = sample_order(len(data.x_train), steps, seed=seed, shuffle=True)
    job = training_job(TaxoNNGolden(cfg), data.x_train[idx], data.y_train[idx], check_every=steps)
    return Workload(job=job, driver="taxonn-training", test_module="sim.tb.taxonn_train_tb", step_name="training step",
                    description=f"{steps} online-SGD training steps on scikit-learn digits (seed {seed}), "
                                f"netlist results checked against the golden model",
                    phases=PHASES[1:])


def _taxonn_accuracy(cfg, work_dir):
    """Test accuracy after one epoch of golden-model training on digits."""
    from models.datasets import load_digits
    from models.taxonn_train import train_taxonn
    metrics = train_taxonn(cfg, load_digits(), work_dir, epochs=1, progress=False)
    return float(metrics["test_accuracy"])


def fit_clock(component_for, depths, liberty, target_mhz, *, require_timing=False, sram_liberty=None,
              progress=None):
    """`ppa.estimate.fit_pipeline` for a report: ``(fit, clock_mhz)``, the clock to run at being the target
    when a depth meets it, else None (the deepest depth at its own fmax; the fit names the path that keeps
    it from the target). ``require_timing``: `TimingNotMet` instead when none meets it."""
    from ppa.estimate import TimingNotMet, fit_pipeline
    fit = fit_pipeline(component_for, depths, liberty, target_mhz, sram_liberty=sram_liberty, progress=progress)
    if fit["met"]:
        return fit, fit["target_mhz"]
    worst = fit["attempts"][-1]
    if require_timing:
        raise TimingNotMet(f"no pipeline depth meets {fit['target_mhz']:g} MHz: at depth {worst['depth']} the "
                           f"critical path is {worst['critical_path_ns']:.3f} ns ({worst['fmax_mhz']:.1f} MHz) from "
                           f"{worst['startpoint']} to {worst['endpoint']}")
    return fit, None


def _design_figures(kind, component, cfg, workload, liberty, clock_mhz, sim, out, progress, model_fn, *,
                    require_timing=False, sram_liberty=None, glitch_window=None):
    from ppa.estimate import estimate
    from ppa.memories import macros_for
    from rtl.liberty import read_liberty
    fig = estimate(component, workload, liberty, clock_mhz=clock_mhz, require_timing=require_timing, sim=sim,
                   out_dir=out, sram_liberty=sram_liberty, glitch_window=glitch_window, progress=progress)
    macros = macros_for(read_liberty(liberty), sram_liberty)
    model = model_fn(cfg, liberty, flops=fig["flops"], macros=macros, progress=progress)
    gate = fig["energy"]["dynamic_per_step_pj"]
    gate_logic = fig["energy"]["logic_dynamic_per_step_pj"]
    model_logic = model["per_step_pj"] - model["terms"]["SRAM macros"]
    fig["energy_model"] = {**model, "gate_level_pj": gate,
                           "difference": (model["per_step_pj"] - gate) / gate,
                           "logic_model_pj": model_logic, "logic_gate_level_pj": gate_logic,
                           "logic_difference": (model_logic - gate_logic) / gate_logic if gate_logic else None}
    fig["config"] = cfg.to_json()
    fig["design"] = kind
    return fig


TAXONN_DESIGNS = ("taxonn", "baseline")


def taxonn_design_figures(cfg, which, liberty, out_dir, *, clock_mhz=None, require_timing=False, sram_liberty=None,
                          sim="verilator", steps=TAXONN_STEPS, seed=0, glitch_window=0, target_mhz=None,
                          progress=None):
    """Figures of one design of the TaxoNN report (``which``: ``taxonn``, ``cfg``'s design, or ``baseline``,
    its comparison design, `models.taxonn.baseline_config`), in ``out_dir``/work/``which``. The arguments are
    `taxonn_report`'s (``glitch_window`` applies to whichever design is asked for)."""
    from accel.taxonn import TaxoNN
    from models.taxonn import baseline_config, schedule
    from ppa.energy_model import taxonn_energy
    if which not in TAXONN_DESIGNS:
        raise ValueError(f"`which` must be one of {', '.join(TAXONN_DESIGNS)}, not {which!r}")
    c = cfg if which == "taxonn" else baseline_config(cfg)
    if which == "baseline":
        _say(progress, "baseline: dedicated multiplier arrays per phase, 16-bit arithmetic")
    workload = taxonn_workload(c, steps, seed)  # first: it checks the layers fit the data
    fit = None
    if target_mhz is not None:
        fit, clock_mhz = fit_clock(lambda depth: TaxoNN(c), [0], liberty, target_mhz,
                                   require_timing=require_timing, sram_liberty=sram_liberty, progress=progress)
    fig = _design_figures("taxonn" if which == "taxonn" else "taxonn-baseline", TaxoNN(c), c, workload, liberty,
                          clock_mhz, sim, Path(out_dir) / "work" / which, progress, taxonn_energy,
                          require_timing=require_timing, sram_liberty=sram_liberty,
                          glitch_window=min(glitch_window or 0, steps))
    fig["clock_target"] = fit
    if fit is None:
        fig["clock_goal"] = clock_goal(fig, None)  # TaxoNN has no pipeline option yet
    if which == "taxonn":
        fig["inventory"] = _inventory(TaxoNN(c))
        fig["workload"]["cycles_model"] = schedule(c)["total"]
    return fig


def _worker_progress(name, say):
    """A worker process's progress: lines on stderr prefixed by ``name`` (the design it measures); None
    without ``say``."""
    import sys

    def progress(message):
        print(f"[bitforge] {name}: {message}", file=sys.stderr, flush=True)

    return progress if say else None


def taxonn_design_in_worker(cfg_json, which, liberty, out, kwargs, say):
    """`taxonn_design_figures` in a worker process, its progress on stderr prefixed by the design."""
    from models.taxonn import TaxoNNConfig
    return taxonn_design_figures(TaxoNNConfig.from_json(cfg_json), which, liberty, out,
                                 progress=_worker_progress(which, say), **kwargs)


def taxonn_report(cfg, liberty, out_dir, *, clock_mhz=None, require_timing=False, sram_liberty=None, sim="verilator",
                  steps=TAXONN_STEPS, seed=0, compare=True, sweep=True, glitch_window=TAXONN_GLITCH_WINDOW,
                  target_mhz=None, figures=None, progress=None):
    """Write the TaxoNN report into ``out_dir``; returns report.json's dict.

    ``clock_mhz``: None runs each design at its own fmax (static timing). ``glitch_window``: that many
    training steps of TaxoNN (not of the baseline) also run with the netlist's delays (`ppa.glitch`);
    0 or None: none. ``target_mhz``: each design is synthesized for that clock and run at it when it meets
    it, else at its own fmax with the path that keeps it from the target in ``clock_target`` (TaxoNN has
    no pipeline option yet: one depth is tried). ``figures``: `taxonn_design_figures` results computed
    elsewhere (in parallel), by design; the others are computed here."""
    from models.taxonn import baseline_config
    out = ensure_dir(out_dir)
    _say(progress, f"TaxoNN {','.join(map(str, cfg.layers))} P={cfg.pes}: area and power")
    check_taxonn_report(cfg)
    figures = dict(figures or {})
    kw = dict(clock_mhz=clock_mhz, require_timing=require_timing, sram_liberty=sram_liberty, sim=sim, steps=steps,
              seed=seed, target_mhz=target_mhz, progress=progress)
    main = figures.get("taxonn") or taxonn_design_figures(cfg, "taxonn", liberty, out, glitch_window=glitch_window,
                                                          **kw)
    report = {**main, "comparison": None, "sweep": None}
    if compare:
        base_cfg = baseline_config(cfg)
        base = figures.get("baseline") or taxonn_design_figures(cfg, "baseline", liberty, out, **kw)
        report["comparison"] = {
            "baseline": "the same generator with dedicated multiplier arrays per phase (multipliers='dedicated') "
                        "and 16-bit weights/activations/errors (models.taxonn.baseline_config), running the "
                        "schedule its dedicated arrays permit: back-propagation overlapped with the update, one "
                        "(row, chunk) per cycle (models.taxonn.schedule, verified on its RTL)",
            "equal": "network, training samples and their order, learning rate, rounding mode, P, library",
            "not_equal": "multiplier arrays (one shared vs one per phase), number formats (TaxoNN's vs 16-bit), "
                         "cycles per step (each its own schedule), clock (each its own fmax when not given)",
            "baseline_config": base_cfg.to_json(),
            "designs": {"taxonn": _summary(main), "baseline": _summary(base)},
            "power_ratio": base["power_mw"]["total"] / main["power_mw"]["total"],
            "area_ratio": base["area_um2"]["total"] / main["area_um2"]["total"],
            "logic_area_ratio": base["area_um2"]["logic"] / main["area_um2"]["logic"],
            "energy_per_step_ratio": base["energy"]["per_step_pj"] / main["energy"]["per_step_pj"],
            "time_per_step_ratio": _step_time_us(base) / _step_time_us(main),
            "paper": {"power_ratio": PAPER["taxonn"]["power"], "area_ratio": PAPER["taxonn"]["area"]},
        }
    if sweep:
        report["sweep"] = _taxonn_sweep(cfg, liberty, out / "work" / "sweep", progress, sram_liberty=sram_liberty)
    write_report(report, out, progress)
    return report


def _step_time_us(fig):
    return fig["workload"]["cycles_per_step"] / fig["clock_mhz"]


def _summary(fig):
    return {"clock_mhz": fig["clock_mhz"], "fmax_mhz": fig["timing"]["fmax_mhz"],
            "time_per_step_us": _step_time_us(fig),"area_um2": fig["area_um2"]["total"], "logic_area_um2": fig["area_um2"]["logic"],
            "power_mw": fig["power_mw"]["total"], "dynamic_mw": fig["power_mw"]["dynamic"],
            "leakage_mw": fig["power_mw"]["leakage"], "energy_per_step_pj": fig["energy"]["per_step_pj"],
            "cycles_per_step": fig["workload"]["cycles_per_step"],
            "model_energy_per_step_pj": fig["energy_model"]["per_step_pj"]}


_SWEEP_FORMATS = {8: ("8.6", "8.4", "8.6", "12.10"), 12: None, 16: ("16.14", "16.12", "16.14", "20.18")}


def _taxonn_sweep(cfg, liberty, work, progress, *, sram_liberty=None):
    """P x bitwidth: area (synthesis + planned memories), fmax (static timing), energy per step (fast model),
    accuracy (golden, 1 epoch)."""
    from accel.taxonn import TaxoNN
    from quant import FixedFormat
    from models.taxonn import schedule
    from ppa.energy_model import taxonn_energy
    from ppa.estimate import memory_mode, time_with_memories
    from ppa.memories import macros_for
    from rtl.liberty import read_liberty
    from rtl.synth import synthesize
    points, accuracy = [], {}
    macros = macros_for(read_liberty(liberty), sram_liberty)
    for bits, fmts in _SWEEP_FORMATS.items():
        c_bits = cfg if fmts is None else dataclasses.replace(
            cfg, w_fmt=FixedFormat.parse(fmts[0]), a_fmt=FixedFormat.parse(fmts[1]),
            e_fmt=FixedFormat.parse(fmts[2]), g_fmt=FixedFormat.parse(fmts[3]))
        _say(progress, f"sweep: {bits}-bit formats, accuracy after one epoch on digits")
        accuracy[bits] = _taxonn_accuracy(c_bits, work / f"train{bits}")
        for P in (2, 4, 8):
            c = dataclasses.replace(c_bits, pes=P)
            _say(progress, f"sweep: P={P}, {c.w_fmt.total}-bit weights")
            synth = synthesize(TaxoNN(c), liberty, memories=memory_mode(macros), progress=progress)
            timing, plans, _ = time_with_memories(synth, macros)
            fmax = timing.fmax_mhz
            blocks = synth.area_by_block().values()
            logic = sum(b["area_um2"] for b in blocks)
            mem = sum(p.area_um2 for p in plans.values())
            flops = sum(b["flops"] for b in blocks)
            model = taxonn_energy(c, liberty, flops=flops, macros=macros, progress=progress)
            cycles = schedule(c)["total"]
            points.append({"pes": P, "bits": c.w_fmt.total, "formats": {"w": str(c.w_fmt), "a": str(c.a_fmt),
                                                                        "e": str(c.e_fmt), "g": str(c.g_fmt)},
                           "area_um2": logic + mem, "logic_area_um2": logic, "fmax_mhz": fmax,
                           "energy_per_step_pj": model["per_step_pj"], "cycles_per_step": cycles,
                           "time_per_step_us": cycles / fmax, "accuracy": accuracy[bits]})
    pareto = _pareto([(p["area_um2"], p["energy_per_step_pj"], -p["accuracy"]) for p in points])
    for p, on in zip(points, pareto):
        p["pareto"] = on
    return {"points": points, "method": "area: synthesis + planned memories (macros or cells); fmax: OpenSTA on "
                                        "the minimum-delay netlist, macros with their own arcs; energy: the fast energy model; accuracy: "
                                        "golden model, one epoch of online SGD on digits (test split)"}


def _pareto(costs):
    out = []
    for i, a in enumerate(costs):
        dominated = any(all(b[k] <= a[k] for k in range(len(a))) and any(b[k] < a[k] for k in range(len(a)))
                        for j, b in enumerate(costs) if j != i)
        out.append(not dominated)
    return out


# -- BT-LSTM -------------------------------------------------------------------

def lstm_workload(cfg, weights, sequences, seed):
    from models.lstm import LSTMGolden
    from ppa.estimate import Workload
    from sim.lstm_host import lstm_job
    rng = np.random.default_rng(seed)
    if cfg.input_size == 8:
        from models.lstm_tasks import load_task
        task = load_task("seq-digits")
        idx = rng.permutation(len(task.x_test))[:sequences]
        xs = task.x_test[idx].astype(np.float64)
        what = f"{sequences} sequential-digit test sequences ({xs.shape[1]} steps each)"
    else:
        xs = rng.uniform(0, 1, (sequences, 8, cfg.input_size))
        what = f"{sequences} random sequences of 8 steps (inputs uniform in [0, 1))"
    job = lstm_job(LSTMGolden(cfg, weights), xs)
    return Workload(job=job, driver="lstm", test_module="sim.tb.lstm_tb", step_name="time step", phases=None,
                    description=what + ", netlist h_t checked against the golden model")


LSTM_MODES = ("binary", "ternary", "fixed12")


def lstm_mode_figures(cfg, mode, weights, liberty, out_dir, *, clock_mhz=None, require_timing=False,
                      sram_liberty=None, sim="verilator", sequences=LSTM_SEQUENCES, seed=0, source="trained weights",
                      glitch_window=LSTM_GLITCH_WINDOW, zero_skip=True, target_mhz=None, progress=None):
    """Figures of one BT-LSTM mode, run with ``weights``: a network trained in that mode. ``glitch_window``:
    that many time steps (from the first sequence on) also run with the netlist's delays (`ppa.glitch`);
    0 or None: none. ``zero_skip`` (ternary): the workload runs again with every zero weight set to +1
    (`_zero_skip`). ``target_mhz``: the design is built at the shallowest ``pipeline`` depth that meets
    that clock and run at it (`fit_clock`), ``clock_mhz`` then unused."""
    from accel.lstm import LSTM
    from models.lstm import schedule, MAX_PIPELINE
    from ppa.energy_model import lstm_energy
    if weights is None or weights.mode != mode:
        raise ValueError(f"the {mode} design needs a network trained in that mode, not "
                         f"{'none' if weights is None else weights.mode + ' weights'}")
    c = dataclasses.replace(cfg, mode=mode)
    fit = None
    if target_mhz is not None:
        fit, clock_mhz = fit_clock(lambda depth: LSTM(dataclasses.replace(c, pipeline=depth)),
                                   range(MAX_PIPELINE + 1), liberty, target_mhz, require_timing=require_timing,
                                   sram_liberty=sram_liberty, progress=progress)
        c = dataclasses.replace(c, pipeline=fit["depth"])
    _say(progress, f"BT-LSTM {mode} I={c.input_size} H={c.hidden} L={c.lanes} K={c.inputs_per_cycle}")
    wl = lstm_workload(c, weights, sequences, seed)
    fig = _design_figures("lstm", LSTM(c), c, wl, liberty, clock_mhz, sim, Path(out_dir) / "work" / mode, progress,
                          lstm_energy, require_timing=require_timing, sram_liberty=sram_liberty,
                          glitch_window=glitch_window or 0)
    if mode == "ternary" and zero_skip:
        # the clock as given (None: the same synthesis, its fmax), so that the rerun uses the same netlist
        fig["zero_skip"] = _zero_skip(c, weights, liberty, Path(out_dir) / "work" / "ternary-dense", fig, sim=sim,
                                      clock_mhz=clock_mhz, sram_liberty=sram_liberty, sequences=sequences,
                                      seed=seed, progress=progress)
    sched = schedule(c)
    fig["clock_target"] = fit
    if fit is None:
        fig["clock_goal"] = clock_goal(fig, c.pipeline, range(MAX_PIPELINE + 1))
    fig["weights"] = source
    fig["workload"]["cycles_model"] = sched["cycles_per_step"]
    fig["weight_memory_bits"] = sched["weight_memory_bits"]
    fig["throughput_steps_per_s"] = fig["clock_mhz"] * 1e6 / sched["cycles_per_step"]
    fig["throughput_per_mm2"] = fig["throughput_steps_per_s"] / (fig["area_um2"]["total"] * 1e-6)
    return fig


def lstm_mode_in_worker(cfg_json, mode, weights, liberty, out, kwargs, say):
    """`lstm_mode_figures` in a worker process, its progress on stderr prefixed by the mode."""
    from models.lstm import LSTMConfig
    return lstm_mode_figures(LSTMConfig.from_json(cfg_json), mode, weights, liberty, out,
                             progress=_worker_progress(mode, say), **kwargs)


def _tree_pj(fig):
    return fig["blocks"]["adder trees"]["energy_per_step_pj"]


def _zero_skip(cfg, weights, liberty, out, fig, *, sim, clock_mhz, sram_liberty, sequences, seed, progress):
    """What skipping the zero weights saves: the trees' gate-level energy per step with the trained ternary
    weights against the same netlist, inputs and clock with every zero weight replaced by +1."""
    from accel.lstm import LSTM
    from ppa.estimate import estimate
    zeros = int((weights.wx == 0).sum() + (weights.wh == 0).sum())
    total = weights.wx.size + weights.wh.size
    dense = dataclasses.replace(weights, wx=np.where(weights.wx == 0, 1, weights.wx),
                                wh=np.where(weights.wh == 0, 1, weights.wh), source="dense copy")
    _say(progress, f"ternary with its {zeros} zero weights set to +1: the saving of skipping them")
    other = estimate(LSTM(cfg), lstm_workload(cfg, dense, sequences, seed), liberty, clock_mhz=clock_mhz, sim=sim,
                     out_dir=out, sram_liberty=sram_liberty, glitch_window=0, progress=progress)
    if other["clock_mhz"] != fig["clock_mhz"] or other["area_um2"] != fig["area_um2"]:
        raise RuntimeError("the zero-skip rerun did not use the same netlist and clock")
    trained, without = _tree_pj(fig), _tree_pj(other)
    return {"sparsity": zeros / total, "zero_weights": zeros, "weights": total,
            "trees_pj_per_step": trained, "trees_pj_per_step_no_zeros": without,
            "saving": 1 - trained / without if without else None,
            "total_pj_per_step": fig["energy"]["per_step_pj"], "total_pj_per_step_no_zeros": other["energy"]["per_step_pj"],
            "method": "gate-level energy of the add/subtract/skip trees per time step, the same netlist, input "
                      "sequences and clock, with the trained ternary weights and with every zero weight replaced "
                      "by +1 (a zero code isolates its input: its term is 0, its negator does not switch)"}


def lstm_training_run(cfg, weights_path, *, compare=True):
    """The `LSTMTrainConfig` the report trains every mode with: the one in the ``metrics.json`` beside
    ``weights_path`` (None without ``compare`` when there is none), or seq-digits with the task's defaults at
    ``cfg.hidden``. A missing or unreadable ``metrics.json`` is ``BadInput``: the CLI calls this before any work."""
    import json
    from models.lstm_train import LSTMTrainConfig, TASK_DEFAULTS
    if weights_path is None:
        defaults = {k: v for k, v in TASK_DEFAULTS["seq-digits"].items() if k != "hidden"}
        return LSTMTrainConfig(task="seq-digits", weights="ternary", hidden=cfg.hidden, **defaults)
    metrics_path = Path(weights_path).parent / "metrics.json"
    if not metrics_path.is_file():
        if compare:
            raise BadInput(f"{weights_path}: no metrics.json beside it naming its training run, so the other "
                           f"modes cannot be trained like it; train with `bitforge train lstm` or pass --no-compare")
        return None
    try:
        return LSTMTrainConfig.from_json(json.loads(metrics_path.read_text())["config"])
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise BadInput(f"{metrics_path} does not name a training run ({type(e).__name__}: "
                       f"{first_line(e, 200)}); retrain with `bitforge train lstm` or pass "
                       f"--no-compare") from None


def trained_lstm_modes(cfg, weights_path, work_dir, *, compare=True, trained=None, progress=None):
    """``({mode: LSTMWeights}, {mode: description})``: the network at ``weights_path`` (``cfg.mode``) and,
    with ``compare``, the same training run in every other of `LSTM_MODES`, trained into ``work_dir``.

    The run's settings come from the ``metrics.json`` that `models.lstm_train.train_lstm` writes beside
    its ``lstm.npz``; without ``weights_path``, one run on seq-digits with the task's defaults and
    ``cfg.hidden`` is trained in every mode. ``trained`` maps modes to run directories that may already
    hold the same run in that mode (the demo's float network is its fixed12 run): each is used when its
    recorded run is that one, else the mode is trained."""
    from models.lstm import LSTMWeights
    from models.lstm_train import train_modes
    modes = [cfg.mode] + ([m for m in LSTM_MODES if m != cfg.mode] if compare else [])
    run = lstm_training_run(cfg, weights_path, compare=compare)
    given = {}
    if weights_path is not None:
        if run is None:
            w = LSTMWeights.load(weights_path)
            return {w.mode: w}, {w.mode: f"trained weights ({Path(weights_path).name})"}
        given[cfg.mode] = Path(weights_path).parent
    runs = train_modes(run, modes, work_dir, given=given, reuse=trained, progress=False, say=progress)
    nets, sources = {}, {}
    for mode, (path, metrics) in runs.items():
        nets[mode] = LSTMWeights.load(path)
        hw = metrics.get("hardware", {})
        figure = next((k for k in ("test_accuracy", "test_bpc") if k in hw), None)
        shown = "" if figure is None else (f", test {figure[5:]} {100 * hw[figure]:.2f}%" if figure == "test_accuracy"
                                           else f", test BPC {hw[figure]:.3f}") + " through the hardware arithmetic"
        sources[mode] = (f"trained: {run.task}, H={run.hidden}, {run.epochs} epochs, seed {run.seed}, "
                         f"{metrics['weights']} training exported as {mode}{shown}")
    return nets, sources


def lstm_report(cfg, weights, liberty, out_dir, *, clock_mhz=None, require_timing=False, sram_liberty=None,
                sim="verilator", sequences=LSTM_SEQUENCES, seed=0, compare=True, figures=None, sources=None,
                glitch_window=LSTM_GLITCH_WINDOW, workers=1, target_mhz=None, progress=None):
    """Write the BT-LSTM report (``cfg.mode`` first, the other `LSTM_MODES` beside it) into ``out_dir``.
    ``target_mhz``: each mode's design at the shallowest pipeline depth that meets it (`lstm_mode_figures`).

    ``weights`` maps each mode to the network trained in that mode (`models.lstm_train.train_modes`
    trains one run in every mode); ``sources`` describes each. ``figures`` maps modes to
    `lstm_mode_figures` results computed elsewhere (in parallel); the modes missing from it are computed
    here, ``workers`` at a time (separate processes). ``glitch_window`` applies to ``cfg.mode``'s design.
    """
    from accel.lstm import LSTM
    out = ensure_dir(out_dir)
    wanted = [cfg.mode] + ([m for m in LSTM_MODES if m != cfg.mode] if compare else [])
    figures = dict(figures or {})
    missing = [m for m in wanted if m not in figures and m not in (weights or {})]
    if missing:
        raise ValueError(f"no network trained in mode {', '.join(missing)}: the comparison runs each design with "
                         f"its own trained network (models.lstm_train.train_modes)")
    todo = sorted((m for m in wanted if m not in figures), key=lambda m: m != "fixed12")  # the longest first
    # the glitch-aware window for the reported design only (Icarus with SDF: minutes per time step)
    jobs = {m: dict(clock_mhz=clock_mhz, require_timing=require_timing, sram_liberty=sram_liberty, sim=sim,
                    sequences=sequences, seed=seed, glitch_window=glitch_window if m == cfg.mode else 0,
                    source=(sources or {}).get(m, "trained weights"), target_mhz=target_mhz) for m in todo}
    if workers > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        _say(progress, f"BT-LSTM {', '.join(todo)}: {min(workers, len(todo))} at a time, each worker's progress "
                       f"prefixed by its mode")
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running = {m: pool.submit(lstm_mode_in_worker, cfg.to_json(), m, weights[m], str(liberty), str(out),
                                      jobs[m], progress is not None) for m in todo}
            figures.update({m: f.result() for m, f in running.items()})
    for mode in todo:
        if mode not in figures:
            figures[mode] = lstm_mode_figures(cfg, mode, weights[mode], liberty, out, progress=progress, **jobs[mode])
    figures = {m: figures[m] for m in wanted}
    report = {**figures[cfg.mode], "comparison": None, "sweep": None}
    report["inventory"] = _inventory(LSTM(cfg))
    if compare:
        ref = figures["fixed12"]
        report["comparison"] = {
            "baseline": "fixed12: the same generator with 12-bit weights and real multipliers in the trees",
            "equal": "task, I, H, L, K, training run (epochs, batch, learning rate, seed), library and input "
                     "sequences; each design runs the network trained in its own mode",
            "not_equal": "the weights (each mode's own training), the weight memory width, the dot-product "
                         "datapath (add/subtract/skip vs multipliers), the clock (each its own fmax unless one "
                         "is given)",
            "designs": {m: {**_summary(f), "weight_memory_bits": f["weight_memory_bits"],
                            "throughput_per_mm2": f["throughput_per_mm2"], "weights": f["weights"]}
                        for m, f in figures.items()},
            "vs_fixed12": {m: {"area_ratio": ref["area_um2"]["total"] / f["area_um2"]["total"],
                               "logic_area_ratio": ref["area_um2"]["logic"] / f["area_um2"]["logic"],
                               "power_ratio": ref["power_mw"]["total"] / f["power_mw"]["total"],
                               "energy_per_step_ratio": ref["energy"]["per_step_pj"] / f["energy"]["per_step_pj"],
                               "weight_memory_ratio": ref["weight_memory_bits"] / f["weight_memory_bits"],
                               "speedup": f["throughput_steps_per_s"] / ref["throughput_steps_per_s"],
                               "throughput_at_equal_area_ratio": f["throughput_per_mm2"] / ref["throughput_per_mm2"]}
                           for m, f in figures.items() if m != "fixed12"},
            "paper": {"memory_saving": PAPER["lstm"]["memory"], "speedup": PAPER["lstm"]["speedup"]},
        }
    write_report(report, out, progress)
    return report
