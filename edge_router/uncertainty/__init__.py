"""How unsure the local model is: semantic entropy over sampled answers, and the clustering
backends (exact match, embedding similarity, bidirectional entailment) it is computed with."""
