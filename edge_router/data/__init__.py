"""The lab's inputs: benchmark and training prompts, NLI pairs, recorded outcomes, the embedding
cache, and the resumable JSONL appender long jobs write through."""
