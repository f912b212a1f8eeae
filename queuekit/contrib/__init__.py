"""Integrations with frameworks; each lives in its own subpackage and needs its extra."""
