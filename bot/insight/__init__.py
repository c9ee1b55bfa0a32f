"""Support insight: figures from the tracker store, the handoff tickets (per team and agent, with
their tags) and the help center's events (``records``, ``compute``, ``sources``), and a report of
them (``charts``, ``render``, ``report``)."""
