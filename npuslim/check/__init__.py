"""Stage 5, check: verify a bundle, load it through a real loader, hold it to a size budget."""
