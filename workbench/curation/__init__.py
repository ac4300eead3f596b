"""Curation: leak-free splits, checks for duplicates and leaks, what the workspace holds."""
