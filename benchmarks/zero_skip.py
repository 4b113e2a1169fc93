"""What skipping zero weights saves in the BT-LSTM trees: one ternary design, its workload run twice on the
same netlist (the weights as given, then with every zero set to +1), the trees' gate-level energy per step.

    .venv/bin/python benchmarks/zero_skip.py --hidden 8 --lanes 2 --inputs-per-cycle 4 --sequences 8

Random ternary weights (seed ``--seed``) or ``--weights lstm.npz`` (a trained ternary network). Prints
the figure as JSON (`bitforge.report.lstm_mode_figures`' ``zero_skip``).
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def main(argv=None):
    from bitforge.report import lstm_mode_figures
    from models.lstm import LSTMConfig, LSTMWeights, random_weights
    from rtl.liberty import default_liberty
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=8)
    p.add_argument("--lanes", type=int, default=2)
    p.add_argument("--inputs-per-cycle", type=int, default=4)
    p.add_argument("--sequences", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--weights", help="a trained ternary lstm.npz (I=8 for seq-digits sequences)")
    p.add_argument("--library", default="ihp", choices=("ihp", "sky130"))
    args = p.parse_args(argv)
    if args.weights:
        w = LSTMWeights.load(args.weights)
        cfg = LSTMConfig.for_weights(w, lanes=args.lanes, inputs_per_cycle=args.inputs_per_cycle)
    else:
        cfg = LSTMConfig(input_size=8, hidden=args.hidden, lanes=args.lanes, inputs_per_cycle=args.inputs_per_cycle,
                         mode="ternary")
        w = random_weights(cfg, np.random.default_rng(args.seed))
    say = lambda m: print(m, file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        fig = lstm_mode_figures(cfg, "ternary", w, default_liberty(args.library), Path(tmp), sequences=args.sequences,
                                glitch_window=0, progress=say)
    print(json.dumps({"config": cfg.to_json(), "library": fig["library"]["name"], "clock_mhz": fig["clock_mhz"],
                      **fig["zero_skip"]}, indent=1))


if __name__ == "__main__":
    main()
