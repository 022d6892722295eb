"""Renderers: records and summaries in, text and files out. No torch, no submissions."""
