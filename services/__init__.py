"""Service functions: a context and a command in, one unit of work, wake-ups after commit."""
