"""Model files: the registry (data), the verified download cache, the one ONNX session factory."""
