"""Cross-cutting pieces every stage uses: settings, errors, paper identifiers, passwords, atomic
file writes and the record types that sources yield and the store writes. ``core`` imports no
other layer."""
