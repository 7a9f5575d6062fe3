"""Stage 1, source: where an install comes from (folder, wheel, archive, requirement) and its layout."""
