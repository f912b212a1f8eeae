"""Backends that ship inside the core (only the in-memory reference backend)."""
