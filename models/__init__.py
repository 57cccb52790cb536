"""Model files edge-router builds and ships (installed as the data package ``edge_router_models``)."""
