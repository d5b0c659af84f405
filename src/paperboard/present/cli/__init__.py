"""The command line: ``paperboard <command>``; each module holds one group of commands."""
