"""bitforge: low-bitwidth neural-network accelerators, from quantized training to verified RTL."""

__version__ = "0.1.0"
