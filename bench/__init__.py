"""Benchmarks: `uv run python -m bench <name>`. Each prints its numbers and a ratio
against a baseline measured in the same run, and records the machine it ran on."""
