"""Route modules, one per part of the site; each defines ``router``."""
