"""Benchmarks of the host against the performance budgets of design.md section 8.

``python -m bench --json`` starts the host under test (``python -m bench.host``, pinned to
one core), the local Teams simulator as Graph and a load generator (``python -m
bench.loadgen``, on the other core), runs each phase and prints one JSON object. The method
and the latest numbers are in docs/performance.md.
"""
