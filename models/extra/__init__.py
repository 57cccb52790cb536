"""Optional model files edge-router builds (installed as the data package ``edge_router_extra_models``)."""
