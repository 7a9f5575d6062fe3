"""Stage 2, analyse (read-only): resolving names, the dependency graph, symbols, hints, headers."""
