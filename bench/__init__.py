"""Benchmarks of the foundation: every figure beside a baseline measured in the same run.

Run ``make bench`` (or ``python -m bench --help`` from the repository root).
The machines here are small and shared, so absolute numbers mean little;
the ratio to a baseline measured moments before or after, on the same
disk and CPU, is the figure to read.
"""

from __future__ import annotations
