"""Stage 7, pipeline: one module per command that runs the stages in order (plan, then act, check, report)."""
