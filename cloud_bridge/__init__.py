"""Restock's cloud bridge: it takes signed orders from edge agents and forwards them to a shop.

:mod:`cloud_bridge.app` is the HTTP service (``create_app``), :mod:`cloud_bridge.store`
its SQLite state, :mod:`cloud_bridge.forwarder` the durable queue to the shop and
:mod:`cloud_bridge.downlink` the MQTT order updates back to the agent.
:mod:`cloud_bridge.cli` is the thin ``restock bridge`` command group over them.
"""
