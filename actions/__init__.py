"""Custom actions (rasa-sdk): thin glue between the dialogue and the ports in ``bot``."""
