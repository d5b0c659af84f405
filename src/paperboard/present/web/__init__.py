"""The web site and its JSON API (FastAPI, Jinja2): ``create_app`` builds it."""
