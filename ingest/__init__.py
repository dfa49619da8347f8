"""From files to chunks to vectors: reading, French sentence splitting, chunking, embedding, indexing."""
