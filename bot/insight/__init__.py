"""Support insight: figures from the tracker store, the handoff tickets and the help center's
events (``records``, ``compute``, ``sources``), and a report of them (``charts``, ``render``,
``report``)."""
