"""Fakes of the world around Restock: households, their devices, a shop, and a broker."""
