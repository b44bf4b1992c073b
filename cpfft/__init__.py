"""cpfft: the Mon Compte Formation catalogue and France Travail job offers as clean CSV."""

__version__ = "0.1.0"
