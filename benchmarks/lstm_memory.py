"""BT-LSTM accelerator: weight memory and cycles per time step, binary and ternary against fixed12.

    .venv/bin/python benchmarks/lstm_memory.py

Same generator, same lanes L and inputs per cycle K, for the networks trained in
docs/lstm.md. Weight memory is as built (words of L*K codes, padding included)
and as trained (the matrices alone); cycles come from `models.lstm.schedule`,
which the RTL matches cycle for cycle (tests/accel/test_lstm_rtl.py). At equal L
and K the three modes take the same cycles: the speed-up of binary/ternary comes
at equal area (more lanes in the same silicon), measured in the power/area
report. Prints JSON and a markdown table.
"""

import json
import sys

from models.lstm import LSTMConfig, schedule

NETWORKS = {"seq-digits (I=8, H=64)": (8, 64), "row-MNIST (I=28, H=100)": (28, 100),
            "PTB chars (I=50, H=128)": (50, 128)}


def main():
    rows = []
    for name, (I, H) in NETWORKS.items():
        for L, K in ((4, 8), (8, 16)):
            base = None
            for mode in ("fixed12", "ternary", "binary"):
                cfg = LSTMConfig(input_size=I, hidden=H, mode=mode, lanes=L, inputs_per_cycle=K)
                s = schedule(cfg, steps=1)
                trained = cfg.weight_bits * 4 * H * (I + H)
                base = base or (s["weight_memory_bits"], trained)
                rows.append({"network": name, "lanes": L, "inputs_per_cycle": K, "mode": mode,
                             "weight_memory_bits": s["weight_memory_bits"], "trained_weight_bits": trained,
                             "memory_saving": round(base[0] / s["weight_memory_bits"], 2),
                             "cycles_per_step": s["cycles_per_step"], "utilization": s["utilization"]})
    print(json.dumps(rows, indent=2))
    print("\n| network | L, K | mode | weight memory (as built) | saving vs fixed12 | cycles per step | utilization |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['network']} | {r['lanes']}, {r['inputs_per_cycle']} | {r['mode']} | "
              f"{r['weight_memory_bits'] / 8192:.1f} KiB | {r['memory_saving']}x | {r['cycles_per_step']} | "
              f"{100 * r['utilization']:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
