"""A small Django project whose background jobs run on queuekit."""
