"""The benchmark harness behind `edge-router bench` and benchmarks/overhead.py."""
