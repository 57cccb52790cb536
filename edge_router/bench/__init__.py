"""``edge-router bench``: what routing costs on this machine (harness, cold start, targets, report),
and the loopback cloud stand-in."""
