"""Number formats, rounding, quantizers and approximations shared by everything.

NumPy only at import time; `quant.ste` holds the torch autograd wrappers.
"""

from .errors import BadInput, BadType, VerificationError
from .formats import FixedFormat, MAX_TOTAL_BITS, OVERFLOW_MODES
from .rounding import ROUNDING_MODES, RAND_BITS, check_rounding, shift_round
from .lfsr import LFSRBank, lane_seed, POLY_MASK, LFSR_WIDTH, STEPS_PER_DRAW
from .fixed import (quantize, dequantize, overflow, requantize, mul, add, accumulate,
                    check_codes, check_overflow, mul_format, add_format, EXACT_FLOAT_BITS, exact_in_float)
from .weights import w0_scale, binarize, ternarize, WEIGHT_MODES
from .packing import (PACKING_MODES, pack, unpack, to_readmemh, from_readmemh,
                      write_readmemh, memory_bits, memory_init, codes_per_word)
from .activations import PWLActivation, sigmoid, tanh

__all__ = [
    "BadInput", "BadType", "VerificationError",
    "FixedFormat", "MAX_TOTAL_BITS", "OVERFLOW_MODES",
    "ROUNDING_MODES", "RAND_BITS", "check_rounding", "shift_round",
    "LFSRBank", "lane_seed", "POLY_MASK", "LFSR_WIDTH", "STEPS_PER_DRAW",
    "quantize", "dequantize", "overflow", "requantize", "mul", "add", "accumulate",
    "check_codes", "check_overflow", "mul_format", "add_format", "EXACT_FLOAT_BITS", "exact_in_float",
    "w0_scale", "binarize", "ternarize", "WEIGHT_MODES",
    "PACKING_MODES", "pack", "unpack", "to_readmemh", "from_readmemh", "write_readmemh",
    "memory_bits", "memory_init", "codes_per_word",
    "PWLActivation", "sigmoid", "tanh",
]
