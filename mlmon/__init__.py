"""mlmon: declarative, version-controlled ML model monitoring built into a DuckDB warehouse."""

__version__ = "0.1.0"
__all__ = ["__version__"]
