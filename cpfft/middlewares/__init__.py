"""Downloader middlewares: retries with backoff, API quota handling (and, for
France Travail, the OAuth2 token)."""
