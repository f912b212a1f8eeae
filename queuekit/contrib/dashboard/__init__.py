"""``queuekit dashboard``: a web UI over any broker, reading only through the Broker protocol.

Needs the ``dashboard`` extra (``pip install "queuekit[dashboard]"``): Starlette, uvicorn
and Jinja2. :func:`queuekit.contrib.dashboard.web.create_app` builds the ASGI application;
``queuekit dashboard`` (:mod:`queuekit.contrib.dashboard.cli`) serves it. Importing this
package imports nothing third-party.
"""
