"""The address and link safety port (``LinkSafety``): is a pasted address, link or contact
official, denylisted or unknown; its records, its local and HTTP adapters and their factory."""
