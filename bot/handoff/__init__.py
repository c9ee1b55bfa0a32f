"""Human handoff: tickets, the queue and its store, agents and their sessions."""
