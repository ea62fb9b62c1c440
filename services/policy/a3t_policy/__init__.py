"""a3t policy service: the ReAct agent over an inference engine."""
