"""Annotation round-trips: packages out, validated labels back in, Label Studio."""
