"""Benchmarks of the service, each measured next to a floor in the same run (``python -m bench``, ``make bench``).

The machine is shared and noisy: every figure that matters is a ratio against a floor measured
interleaved with it, in the same process or the same batch of subprocesses. See README (Benchmarks).
"""
