"""The active-learning loop: simulated rounds (with an oracle) and real rounds."""
