"""E-mail: composing messages and sending them through the configured SMTP server."""
