"""Heavy offline work on Ray (the ``scale`` extra): labelling spread over actors, one local model each."""
