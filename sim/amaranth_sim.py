"""Drive a building block with `sim.vectors` stimulus in Amaranth's Python simulator."""

from amaranth.sim import Simulator

__all__ = ["run_vectors_amaranth"]


def run_vectors_amaranth(component, vectors):
    """Feed one vector per cycle (``valid`` high); return outputs seen on ``y_valid`` cycles."""
    n = len(vectors)
    outputs = {port: [] for port in vectors.expected}

    async def testbench(ctx):
        for i in range(n + vectors.latency):
            for port, values in vectors.inputs.items():
                ctx.set(getattr(component, port), values[i] if i < n else 0)
            ctx.set(component.valid, int(i < n))
            await ctx.tick()
            if ctx.get(component.y_valid):
                for port in outputs:
                    outputs[port].append(ctx.get(getattr(component, port)))

    sim = Simulator(component)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return outputs
