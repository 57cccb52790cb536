"""Learning from the app's own traffic: the decision store, feedback, and router versions learned on the device."""
