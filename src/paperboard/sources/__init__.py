"""Where papers come from: arXiv's API, OAI-PMH and bulk snapshot, Hugging Face's daily papers and
the demo set. Each module turns one format into the records of ``core/records.py`` behind the
interface of ``base.py``; member submissions are fetched through the arXiv API source. Sources
never touch storage: ``store/importer.py`` drives any of them into the store.
"""
