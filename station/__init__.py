"""Station daemon for unattended pick-up points."""

__version__ = "0.1.0"
