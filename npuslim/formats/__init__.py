"""PE and ELF readers and the bundle lock file format: facts read from files, no decisions."""
