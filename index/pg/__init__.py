"""The index in PostgreSQL + pgvector: the same Snapshot interface as the on-disk backend, for replicas.

server.py (an embedded server for a trial and the tests) · migrations.py (versioned schema) · connect.py (pool,
errors a person can act on) · publish.py (a version in one transaction, shared source rows, prune, rollback) ·
snapshot.py (one version, read through two queries per question) · live.py (which version is current).
"""
