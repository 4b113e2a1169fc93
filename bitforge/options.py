"""argparse options derived from a config dataclass, so the CLI never retypes a field, and the strict value
types every option uses (ASCII numbers only; ranges and choices in the help and in the one-line errors)."""

import argparse
import dataclasses
import json
import math
import re
from pathlib import Path

from quant import FixedFormat
from quant.errors import BadInput, first_line

__all__ = ["add_config_options", "config_from_args", "name_options", "int_type", "float_type", "SEED_MAX", "FORMAT_HELP"]

#: Every ``--seed`` of every command takes 0 .. SEED_MAX.
SEED_MAX = 2 ** 31 - 1
FORMAT_HELP = "a fixed-point format TOTAL.FRAC: TOTAL bits with the sign, FRAC of them fractional; uTOTAL.FRAC unsigned"
_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def int_type(low=None, high=None, what="an integer"):
    """An argparse type: an ASCII integer in ``[low, high]``; the error names the range."""
    def parse(text):
        if not _INT.match(text.strip()):
            raise argparse.ArgumentTypeError(f"{what} is expected, not {text!r}")
        value = int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {low:,} and {high:,}" if high is not None else f"at least {low:,}"
            raise argparse.ArgumentTypeError(f"must be {span}, not {value:,}")
        return value
    parse.__name__ = "integer"
    return parse


def float_type(low=None, what="a number"):
    """An argparse type: a finite ASCII decimal number, above ``low`` when given."""
    def parse(text):
        if not _FLOAT.match(text.strip()):
            raise argparse.ArgumentTypeError(f"{what} is expected, not {text!r}")
        value = float(text)
        if not math.isfinite(value) or (low is not None and value <= low):
            raise argparse.ArgumentTypeError(f"must be a finite number above {low}, not {text}")
        return value
    parse.__name__ = "number"
    return parse


def _int_list(text):
    parts = text.split(",")
    if not text.strip() or any(not _INT.match(p.strip()) for p in parts):
        raise argparse.ArgumentTypeError(f"comma-separated integers like 64,32,10 are expected, not {text!r}")
    return tuple(int(p) for p in parts)


_int_list.__name__ = "list"


def _bool(text):
    low = text.strip().lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"true or false is expected, not {text!r}")


_bool.__name__ = "boolean"


def _option(name):
    return "--" + name.replace("_", "-")


def add_config_options(parser, config_cls, title=None, defaults=None):
    """One ``--field-name`` option per field of ``config_cls``, plus ``--config FILE``.

    ``defaults``: help text replacing the shown default of some fields (where a command chooses its own)."""
    group = parser.add_argument_group(title or f"{config_cls.__name__} options")
    group.add_argument("--config", metavar="FILE", help="JSON configuration; options below override it")
    instance = config_cls()
    choices = getattr(config_cls, "CHOICES", {})
    for f in dataclasses.fields(config_cls):
        default = getattr(instance, f.name)
        extra = {}
        if isinstance(default, FixedFormat):
            kind, meta, what = str, "FMT", FORMAT_HELP + "; "
        elif isinstance(default, bool):
            kind, meta, what = _bool, "BOOL", ""
        elif isinstance(default, int) or default is None:   # None: an integer the config chooses itself
            kind, meta, what = int_type(), "N", ""
        elif isinstance(default, tuple):
            kind, meta, what = _int_list, "A,B,...", ""
        else:
            kind, meta, what = str, f.name.upper(), ""
        if f.name in choices:
            extra["choices"], meta = tuple(choices[f.name]), None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if default is None:
            shown = getattr(config_cls, "AUTO", {}).get(f.name, "chosen by the configuration")
        note = (defaults or {}).get(f.name, f"default {shown}")
        group.add_argument(_option(f.name), dest=f"cfg_{f.name}", type=kind, metavar=meta,
                           help=f"{what}{note}", **extra)
    return group


def name_options(message, config_cls):
    """``message`` with each `field` of ``config_cls`` named as the option that sets it (``--field-name``)."""
    for f in dataclasses.fields(config_cls):
        message = message.replace(f"`{f.name}`", _option(f.name))
    return message


def config_from_args(config_cls, args):
    """Build ``config_cls`` from ``--config`` (if any) overridden by explicit options; errors name the option
    (or the field of the --config file) that holds the bad value."""
    data = {}
    source = None
    if getattr(args, "config", None):
        path = Path(args.config)
        source = f"--config {str(path)!r}"
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise BadInput(f"config file {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise BadInput(f"config file {str(path)!r} is a directory, not a JSON file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"config file {str(path)!r} cannot be read ({e})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"config file {str(path)!r} is not valid JSON: {e}") from None
        if isinstance(data, dict) and "config" in data and isinstance(data["config"], dict):
            data = data["config"]  # a manifest written by `generate`
        if not isinstance(data, dict):
            raise BadInput(f"config file {str(path)!r} must hold a JSON object, not {type(data).__name__}")
    given = set()
    for f in dataclasses.fields(config_cls):
        value = getattr(args, f"cfg_{f.name}", None)
        if value is not None:
            data[f.name] = value
            given.add(f.name)
    try:
        return config_cls.from_json(data)
    except (TypeError, ValueError) as e:
        message = first_line(e)
        from_file = source and any(f"`{name}`" in message for name in set(data) - given)
        message = name_options(message, config_cls)
        raise BadInput(message + (f" (set in {source})" if from_file else "")) from None
