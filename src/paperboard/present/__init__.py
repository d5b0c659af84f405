"""Front doors: the CLI (and, later, the web pages, the JSON API, feeds and email)."""
