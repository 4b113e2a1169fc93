"""Golden model of the sigmoid/tanh unit (accel/activation.py): quant.PWLActivation itself."""

from dataclasses import dataclass

from quant import FixedFormat, PWLActivation
from ._config import ConfigMixin, check_choice, check_int

__all__ = ["ActivationConfig", "activation_model", "ACTIVATION_LATENCY", "MAX_SEGMENTS"]

ACTIVATION_LATENCY = 1


#: Most linear segments a PWL unit has (its segment table is a ROM of this many entries).
MAX_SEGMENTS = 4096


@dataclass(frozen=True)
class ActivationConfig(ConfigMixin):
    """A hardware sigmoid or tanh between two fixed-point formats (see quant.activations)."""

    #: The values each choice field accepts (the CLI lists them).
    CHOICES = {"fn": ("sigmoid", "tanh")}

    fn: str = "sigmoid"
    in_fmt: FixedFormat = FixedFormat(16, 12)
    out_fmt: FixedFormat = FixedFormat(16, 12)
    segments: int = 32
    x_range: int = 0  # 0: the function's default (8 for sigmoid, 4 for tanh)

    def __post_init__(self):
        self._coerce_formats()
        check_choice("fn", self.fn, self.CHOICES["fn"])
        check_int("segments", self.segments, 1, MAX_SEGMENTS)
        self.pwl  # validates the rest

    @property
    def pwl(self):
        return PWLActivation(self.fn, self.in_fmt, self.out_fmt, self.segments, self.x_range or None)


def activation_model(cfg, x):
    return cfg.pwl(x)
