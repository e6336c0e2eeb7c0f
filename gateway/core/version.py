"""The release this code is (shown by /health and `--version`)."""

__version__ = "0.1.0"
