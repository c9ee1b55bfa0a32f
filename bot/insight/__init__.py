"""Support insight: figures from the tracker store and the handoff tickets, and a report of them."""
