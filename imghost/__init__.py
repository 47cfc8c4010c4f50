"""imghost: a self-hosted image host for AI applications."""
