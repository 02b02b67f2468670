"""Command-line entry points: ``symnet-annotate`` subcommands, ``symnet-bench``, ``symnet-train``, ``symnet-eval``."""
