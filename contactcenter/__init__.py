"""The contact-center domain: queues, agents, calls, routing, timers and KPIs.

Pure Python. Nothing here imports the adapters (``bot``, ``graph``, ``storage``,
``tab``); the world is reached only through the Protocols in :mod:`contactcenter.ports`.
"""
