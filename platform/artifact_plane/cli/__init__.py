"""The ``artifact-plane`` command line (typer + rich), one module per command."""
