"""Where papers come from: arXiv's API, OAI-PMH and bulk snapshot, Hugging Face's daily papers,
the demo set and member submissions. Each module turns one format into ``PaperRecord`` items
(``base.py``); ``importer.py`` drives any of them into the store.
"""
