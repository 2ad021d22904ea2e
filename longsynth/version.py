"""The package version, in a module of its own so that any module can read it without importing the
public API (which imports the pipeline, which imports the writer that records the version)."""

__version__ = "0.1.0"
