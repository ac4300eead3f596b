"""Pure numpy core: geometry, splits, scoring. Imports neither fiftyone nor torch."""
