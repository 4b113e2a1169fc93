"""Base class of the building blocks: a component built from one config object."""

from amaranth.lib import wiring

__all__ = ["Block"]


class Block(wiring.Component):
    """A `wiring.Component` whose ports follow from ``config``.

    Subclasses set ``config_class`` and ``latency`` and define
    ``ports(config)``, the signature members.
    """

    config_class = None
    latency = None

    def __init__(self, config):
        if not isinstance(config, self.config_class):
            raise TypeError(f"`config` must be a {self.config_class.__name__}, not {config!r}")
        self.config = config
        super().__init__(self.ports(config))

    @staticmethod
    def ports(config):
        raise NotImplementedError
