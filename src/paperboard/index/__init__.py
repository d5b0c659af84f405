"""Search indexes built from the store: lexical (tantivy, BM25), dense vectors (MiniLM through
ONNX Runtime) with an approximate-nearest-neighbour index, kept in step with the store, and the
map of the literature computed from those vectors (layout, regions, labels; ``map_*.py``)."""
