"""``edge-router serve``: the OpenAI-compatible HTTP front end (needs the ``server`` extra)."""
