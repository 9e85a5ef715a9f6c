"""Wayhouse: IoT-integrated warehouse and delivery tracking for dealer networks.

The one import root. The top-level folders of the checkout are reached through symlinks:
``wayhouse.edge`` (agents and the message contract), ``wayhouse.platform`` (back end),
``wayhouse.routing``, ``wayhouse.ui``, ``wayhouse.simulators`` and ``wayhouse.bench``.
"""
