"""Storage: the only layer that talks to the database (schema, migrations, merge rules, queries),
and the importer that drives a source's records into it."""
