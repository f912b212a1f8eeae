"""Settings for the end-to-end tests: the bookshop example plus the qktest app."""

from bookshop.settings import *  # noqa: F403
from bookshop.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "qktest"]
