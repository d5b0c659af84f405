"""Cross-cutting pieces every stage uses: settings, errors, paper identifiers."""
