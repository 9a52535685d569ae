"""Code every function of the plane shares: the archive writer and the run-state store."""
