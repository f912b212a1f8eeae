"""A Django app holding the tasks and the model the integration tests use."""
