"""Training from curated views: YOLO dataset export, Ultralytics training, size sweeps."""
