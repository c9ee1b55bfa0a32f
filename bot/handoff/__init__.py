"""Human handoff: tickets and the queue, agents and their sessions, the outbox, delivery to users,
and the agent console with its pickup watchdog."""
