"""IM wallet support assistant: channels, NLU, secret guard, dialogue, handoff, wallet, insight."""
