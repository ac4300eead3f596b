"""Hard-negative mining: false positives, confusions and misses turned into the next round."""
