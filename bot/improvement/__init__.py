"""The improvement loop's storage: a lead's labels, agents' flags, the audit log and the export."""
