"""Helpers of bench/bench_history.py: the 200-compartment station, bulk history, load and footprint."""
