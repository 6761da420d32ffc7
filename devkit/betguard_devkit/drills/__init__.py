"""Fault-injection drills: real processes, real faults, then an independent audit."""
