"""Support insight: figures from the tracker store and the handoff tickets (``records``,
``compute``, ``sources``), and a report of them (``charts``, ``render``, ``report``)."""
