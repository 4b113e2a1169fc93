"""The objectives of a sweep and its Pareto front."""

from quant.errors import BadInput

__all__ = ["OBJECTIVES", "parse_objectives", "pareto_front", "objective_values"]

#: objective -> (the trial figure it reads, "max" or "min", how it is shown)
OBJECTIVES = {
    "accuracy": ("accuracy", "max", "accuracy"),
    "area": ("area_um2", "min", "area (um^2)"),
    "energy": ("energy_per_step_pj", "min", "energy per step (pJ)"),
    "fmax": ("fmax_mhz", "max", "fmax (MHz)"),
    "throughput_per_mm2": ("throughput_per_mm2", "max", "steps/s per mm^2"),
}


def parse_objectives(text):
    """``"accuracy,area"`` -> ``["accuracy", "area"]``; a one-line error naming the objectives there are."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    bad = [n for n in names if n not in OBJECTIVES]
    if not names or bad:
        raise BadInput(f"--objectives takes a comma-separated list of {', '.join(OBJECTIVES)}, not {text!r}")
    if len(set(names)) != len(names):
        raise BadInput(f"--objectives names one objective twice: {text!r}")
    return names


def objective_values(row, objectives):
    """The figures of ``row`` for ``objectives`` (None when a figure is missing)."""
    values = [row.get(OBJECTIVES[o][0]) for o in objectives]
    return None if any(v is None for v in values) else values


def pareto_front(rows, objectives):
    """``[bool]`` per row: True when no other row is at least as good in every objective and better in one.
    Rows without every figure (failed trials) are never on the front."""
    costs = []
    for row in rows:
        values = objective_values(row, objectives)
        costs.append(None if values is None else
                     [-v if OBJECTIVES[o][1] == "max" else v for v, o in zip(values, objectives)])
    front = []
    for i, a in enumerate(costs):
        if a is None:
            front.append(False)
            continue
        dominated = any(b is not None and all(y <= x for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b))
                        for j, b in enumerate(costs) if j != i)
        front.append(not dominated)
    return front
