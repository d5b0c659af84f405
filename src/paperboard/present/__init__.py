"""Front doors: the CLI, the web pages with their JSON twins, the JSON API, RSS/Atom feeds,
e-mail (subscriptions and digests) and the worker that runs the pipeline on a schedule."""
