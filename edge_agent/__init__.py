"""Restock's edge agent: it reads appliance sensors over MQTT, predicts run-outs and reorders.

The brain (:mod:`edge_agent.core` and the modules it uses) is sans-I/O. The adapters
(:mod:`edge_agent.mqtt_link`, :mod:`edge_agent.store`, :mod:`edge_agent.bridge_client`)
are thin shells around it, composed by :mod:`edge_agent.service`.
"""
