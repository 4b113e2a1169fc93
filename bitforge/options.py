"""argparse options derived from a config dataclass, so the CLI never retypes a field."""

import dataclasses
import json
from pathlib import Path

from quant import FixedFormat

__all__ = ["add_config_options", "config_from_args"]


def _option(name):
    return "--" + name.replace("_", "-")


def add_config_options(parser, config_cls, title=None):
    """One ``--field-name`` option per field of ``config_cls``, plus ``--config FILE``."""
    group = parser.add_argument_group(title or f"{config_cls.__name__} options")
    group.add_argument("--config", metavar="FILE", help="JSON configuration; options below override it")
    defaults = config_cls()
    for f in dataclasses.fields(config_cls):
        default = getattr(defaults, f.name)
        if isinstance(default, FixedFormat):
            kind, meta = str, "FMT"
        elif isinstance(default, bool):
            kind, meta = lambda s: s.lower() in ("1", "true", "yes"), "BOOL"
        elif isinstance(default, int):
            kind, meta = int, "N"
        elif isinstance(default, tuple):
            kind, meta = lambda s: tuple(int(v) for v in s.split(",")), "A,B,..."
        else:
            kind, meta = str, f.name.upper()
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(_option(f.name), dest=f"cfg_{f.name}", type=kind, metavar=meta,
                           help=f"default {shown}")
    return group


def config_from_args(config_cls, args):
    """Build ``config_cls`` from ``--config`` (if any) overridden by explicit options."""
    data = {}
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file {str(path)!r} does not exist") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {str(path)!r} is not valid JSON: {e}") from None
        if isinstance(data, dict) and "config" in data and isinstance(data["config"], dict):
            data = data["config"]  # a manifest written by `generate`
    for f in dataclasses.fields(config_cls):
        value = getattr(args, f"cfg_{f.name}", None)
        if value is not None:
            data[f.name] = value
    return config_cls.from_json(data)
