"""Benchmarks behind ``symnet-bench`` (CPU speed, mask agreement of the fast modes, the CUDA path).

They print figures; nothing here asserts a speed. The command line is :mod:`symnet_core.cli.bench`.
"""
