"""The scale run (``python -m bench.scale``): worker hosts and processes, HTTP intake
under a load generator, rising load, and what the high-availability settings cost."""
