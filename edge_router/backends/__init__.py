"""The models a router talks to: the local LLM, the cloud LLM, the embedder, the router file,
and the value types they share (messages, completions, samples)."""
