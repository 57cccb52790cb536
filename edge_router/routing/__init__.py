"""``EdgeRouter``: the decision (router score, uncertainty gate), the answer, fallbacks, the cloud
budget and the decision trace."""
