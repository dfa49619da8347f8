"""The SQL a question costs, in one place: dense candidates (one statement) and features (one)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pgvector import Vector

# Sentences nearest the question among the given sources, as (source row id, position in it). Exact: a scan by inner
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
# BM25 is not asked of PostgreSQL: each replica holds the version's weights in memory (index.pg.live), where one
# question costs 0.03 ms instead of 10–20 ms of sparse inner products over every passage sharing a term with it.
# Nor are the chunks holding those sentences: the replica has the version's numbering in memory too, and the join
# that found them cost PostgreSQL as much as the search (1.0 of 2.1 ms a question at 41k sentences).

# Cosines are computed where the vectors are: a candidate's whole-chunk and per-sentence inner products with the
# question come back as numbers (the vectors are unit length), and a chunk's text only when this process has not
# kept it. Shipping the vectors instead cost 5.4 ms for 78 chunks (730 KB detoasted, sent and decoded) against
# 1.1-1.4 ms; a chunk's sentences are its contiguous positions, read through the sentences' primary key.
FEATURES = """
select -(c.embedding <#> %(q)s),
  (select array_agg(-(s.embedding <#> %(q)s) order by s.position) from sentences s
   where s.source = c.source and s.position >= c.first_unit and s.position < c.last_unit),
  case when k.need then c.data end
from unnest(%(s)s::bigint[], %(i)s::int[], %(need)s::bool[]) with ordinality k(source, idx, need, ord)
join chunks c on c.source = k.source and c.idx = k.idx order by k.ord"""
PASSAGES = """
select vs.first_row + c.idx, c.data from version_sources vs join chunks c on c.source = vs.source
where vs.version = %s and vs.source = any(%s) order by 1"""
# What a replica loads of a version's BM25: its vocabulary, and each passage's weights in pgvector's binary form.
VOCABULARY = "select term, dim from terms where version = %s"
WEIGHTS = "select row, sparsevec_send(weights) from bm25 where version = %s"


def dense_units(version: int, query: np.ndarray, pks: list[int] | None, n: int,
                exact: bool) -> tuple[str, dict[str, Any]]:
    """The statement for the (source row id, position) of the n sentences nearest `query`, and its parameters; `pks`
    None: every source of the version."""
    params: dict[str, Any] = {"v": version, "q": Vector(np.asarray(query, dtype=np.float32)), "pks": pks, "n": n}
    dense = (_DENSE_EXACT.format(only="where s.source = any(%(pks)s)" if pks is not None else "") if exact else
             _DENSE_HNSW.format(only_vs="and source = any(%(pks)s)" if pks is not None else ""))
    return dense, params
