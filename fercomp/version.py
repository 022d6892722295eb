"""The package version, in one module that imports nothing (so any layer may read it)."""

__version__ = "0.1.0"
