"""Ingestion: images and labels from files on disk into the store (formats in ``sources``)."""
