"""Fault injection against the whole daemon: real processes, real ptys, SIGKILL at random moments."""
