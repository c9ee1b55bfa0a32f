"""Dialogue helpers shared by the custom actions."""
