"""The pipeline steps, one module each."""
