"""Package discovery, the one thing pyproject.toml cannot say: every edge_router subpackage, found
automatically, plus models/ installed as the data package edge_router_models."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["edge_router", "edge_router.*"]) + ["edge_router_models"])
