"""a3t critic service: an LLM judge that scores finished trajectories."""
