"""Storage and search: versioned FAISS + BM25 snapshots on disk. Imports nothing from ingest or bot."""
