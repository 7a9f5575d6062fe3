"""Stage 4, act (the only stage that writes): staging, extract, strip, UPX, archives, the work cache."""
