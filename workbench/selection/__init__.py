"""Selection: which pool images to label next (uncertainty strategies, diversity, baselines)."""
