"""Power, performance and area of a synthesized netlist: timing, switching activity, energy, memories.

Above `rtl` (generation and synthesis) and `sim` (simulation): this layer
turns a mapped netlist, its activity on a workload and the library into the
figures every report and sweep uses.
"""
