"""``bitforge sweep DESIGN``: design-space exploration on Ray.

A sweep reads a space (`space`: config fields and their values or ranges, the fixed fields, the training
budget), draws trials from it (`search`: grid, seeded random, or Optuna's samplers), runs each trial on Ray
(`engine`: train with the hardware's arithmetic, generate, synthesize, time, the energy model; a sample verified
on the RTL; optionally gate-level power for the front, see `trial`), caches every finished trial by the hash of
its config, and writes the table, the Pareto front of the chosen objectives (`pareto`) and the pages
(`results`).
"""
