"""Custom NLU components and the spaCy pipeline builder."""
