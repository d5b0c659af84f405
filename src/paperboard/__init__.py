"""paperboard: a self-hosted Daily Papers.

Data flows through the subpackages in order: ``sources`` (papers come in) → ``store`` (one record
per paper) → ``index`` (search) → ``rank`` (feeds, trending) → ``present`` (CLI, web, API, mail).
"""

__version__ = "0.1.0"
