"""Storage: the only layer that talks to the database (schema, migrations, merge rules, queries)."""
