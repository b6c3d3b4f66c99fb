"""Benchmarks, image statistics and reports."""
