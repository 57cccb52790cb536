"""Servers on loopback for tests, benchmarks and the demo: the misbehaving OpenAI-compatible cloud
(``fault_server``), the stand-in cloud serving a stronger local model (``standin_app``, started by ``standin``),
and the load generator for ``serve`` (``load``)."""
