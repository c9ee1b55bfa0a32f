"""Support insight: figures from the tracker store and the handoff tickets, a report and metrics."""
