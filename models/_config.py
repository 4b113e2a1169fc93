"""Shared behaviour of bitforge config dataclasses: JSON round trip and field checks."""

import dataclasses
import json

from quant import FixedFormat

__all__ = ["ConfigMixin", "check_int", "check_choice"]


def check_int(name, value, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"`{name}` must be {span}, not {value}")
    return value


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(map(str, choices))}, not {value!r}")
    return value


class ConfigMixin:
    """For frozen dataclasses: FixedFormat fields accept strings; JSON round trip."""

    def _coerce_formats(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in (FixedFormat, "FixedFormat") and isinstance(value, str):
                try:
                    object.__setattr__(self, f.name, FixedFormat.parse(value))
                except ValueError as e:
                    raise ValueError(f"`{f.name}` {value!r}: {e}") from e
            elif f.type in (FixedFormat, "FixedFormat") and not isinstance(value, FixedFormat):
                raise TypeError(f"`{f.name}` must be a number format like '8.4', not {value!r}")

    def to_json(self):
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, FixedFormat) else \
                list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, data):
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__} JSON must be an object, not {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)
