"""sockbench: an interactive socket workbench for the terminal."""

__version__ = "0.1.0"
