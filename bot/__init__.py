"""IM wallet support assistant: channels, NLU components, handoff and wallet backends."""
