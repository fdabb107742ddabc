"""Benchmarks: analytic problems with exact solutions (validation) and performance runs."""
