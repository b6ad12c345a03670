"""Restock's cloud bridge: it takes signed orders from edge agents and forwards them to a shop.

:mod:`cloud_bridge.app` builds the HTTP service (``create_app``); its handlers are in
:mod:`cloud_bridge.api` (devices and the shop) and :mod:`cloud_bridge.admin_api` (the
operator), and :mod:`cloud_bridge.openapi` describes them. :mod:`cloud_bridge.store`
(with :mod:`cloud_bridge.schema` and :mod:`cloud_bridge.accounts`) is its SQLite state;
:mod:`cloud_bridge.intake` judges new orders and :mod:`cloud_bridge.lifecycle` is the
order state machine, both free of I/O; :mod:`cloud_bridge.orders` applies them.
:mod:`cloud_bridge.forwarder` is the durable webhook queue to the shop,
:mod:`cloud_bridge.downlink` the durable MQTT order updates back to the agent,
:mod:`cloud_bridge.batching` the group commit of order intake and
:mod:`cloud_bridge.metrics` the Prometheus metrics. :mod:`cloud_bridge.cli` is the thin
``restock bridge`` command group over them.
"""
