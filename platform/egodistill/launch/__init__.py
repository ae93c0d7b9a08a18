"""Launch jobs the way users do: a private local Ray head and ``ray job submit``."""
