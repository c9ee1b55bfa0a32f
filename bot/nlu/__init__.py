"""Custom NLU components, the augmenting training-data importer and the spaCy pipeline builder."""
