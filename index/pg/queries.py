"""The SQL a question costs, in one place: candidates (one statement) and features (one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pgvector import SparseVector, Vector

# Sentences nearest the question among the given sources, as version sentence rows. Exact: a scan by inner
# product, ties to the lower row as the on-disk flat index; HNSW: the cosine index, scanned iteratively.
# The version's sources are a subquery (a semi join on version_sources), never an array of every source id: a
# prepared statement's generic plan over a large array scanned every sentence (340 ms instead of 6 ms at 67k).
_DENSE_EXACT = """
    select s.source, s.position from sentences s join version_sources vs on vs.source = s.source and vs.version = %(v)s
    {only} order by (s.embedding <#> %(q)s) + 0, vs.first_unit + s.position limit %(n)s"""
_DENSE_HNSW = """
    select source, position from sentences
    where source in (select source from version_sources where version = %(v)s {only_vs})
    order by embedding <=> %(q)s limit %(n)s"""
# The chunks holding those sentences, the best BM25 chunks, and the weights of both.
_CANDIDATES = """
with units as ({dense}),
dense as (
    select distinct vs.first_row + c.idx as row from units u
    join version_sources vs on vs.version = %(v)s and vs.source = u.source
    join chunks c on c.source = u.source and c.first_unit <= u.position and u.position < c.last_unit),
lexical as ({lexical})
select b.row, b.weights from bm25 b where b.version = %(v)s and b.row in (select row from dense union select row from lexical)
"""
# Only the passages holding a term of the question can score: the GIN index on their term ids finds them, so the
# scan no longer grows with the whole corpus (the ranking is the same: the others score 0 and were excluded).
_LEXICAL = """
    select row from bm25 where version = %(v)s and terms && %(dims)s::int[] and weights <#> %(qs)s < 0 {within}
    order by weights <#> %(qs)s, row limit %(n)s"""
_WITHIN = "and exists (select 1 from unnest(%(starts)s::int[], %(ends)s::int[]) r(a, b) where row >= a and row < b)"
_NO_LEXICAL = "select null::int as row where false"

# Vectors travel as pgvector's binary form (vector_send), a chunk's sentence vectors as one big-endian float32
# value: one buffer each for numpy, not an object per vector.
CHUNKS = """
select c.data, vector_send(c.embedding), c.unit_vectors
from unnest(%s::bigint[], %s::int[]) with ordinality k(source, idx, ord)
join chunks c on c.source = k.source and c.idx = k.idx order by k.ord"""
PASSAGES = """
select vs.first_row + c.idx, c.data from version_sources vs join chunks c on c.source = vs.source
where vs.version = %s and vs.source = any(%s) order by 1"""


def candidates(version: int, query: np.ndarray, pks: list[int] | None, n: int, exact: bool,
               lexical: SparseVector | None, ranges: Sequence[tuple[int, int]] | None) -> tuple[str, dict[str, Any]]:
    """The candidates statement and its parameters; `pks` None: every source of the version."""
    params: dict[str, Any] = {"v": version, "q": Vector(np.asarray(query, dtype=np.float32)), "pks": pks, "n": n}
    lexical_sql = _NO_LEXICAL
    if lexical is not None:
        params["qs"], params["dims"] = lexical, lexical.indices()
        within = ""
        if ranges is not None:
            params["starts"], params["ends"] = [a for a, _ in ranges], [b for _, b in ranges]
            within = _WITHIN
        lexical_sql = _LEXICAL.format(within=within)
    dense = (_DENSE_EXACT.format(only="where s.source = any(%(pks)s)" if pks is not None else "") if exact else
             _DENSE_HNSW.format(only_vs="and source = any(%(pks)s)" if pks is not None else ""))
    return _CANDIDATES.format(dense=dense, lexical=lexical_sql), params
