"""The help center: articles support staff edit, searched offline, answered in the conversation."""
