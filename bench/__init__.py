"""betguard's benchmarks: real PostgreSQL, Redis, simulator and worker processes on this
machine, every figure a ratio measured side by side in one run (``python -m bench``)."""
