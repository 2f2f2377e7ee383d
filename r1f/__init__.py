"""r1-factory core: what every stage shares (errors, row ids, dataset I/O, the run store, the CLI)."""

__version__ = "0.1.0"
