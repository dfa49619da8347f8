"""Mutation check for the Slack edge: each deliberate breakage below must fail a Slack test (run by hand).

    .venv/bin/python bench/slack_mutations.py

Prints CAUGHT or MISSED per mutation and restores every file. Last run: 10 of 10 caught (docs/reliability.md).
"""

import pathlib
import subprocess

M = [
 ("title not escaped", "bot/slack/blocks.py", 'return plain(clip(citation.place, 150))', 'return clip(citation.place, 150)'),
 ("excerpt not escaped", "bot/slack/blocks.py", 'left = ("…" if a - room > 0 else "") + escape(text[max(0, a - room) : a])', 'left = ("…" if a - room > 0 else "") + text[max(0, a - room) : a]'),
 ("duplicated tally block", "bot/slack/blocks.py", 'kept = [b for b in blocks if b.get("block_id") != "tally"]', 'kept = list(blocks)'),
 ("vote sent to chat.update", "bot/slack/handlers.py", '            await respond_to(url, replace_original=True, text=escape(record["answer"]), blocks=with_tally(blocks, *tally))', '            await context.client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"], text=escape(record["answer"]), blocks=with_tally(blocks, *tally))'),
 ("unfurl_links dropped", "bot/slack/answerer.py", 'text=reply.text, blocks=reply.blocks,\n                                      unfurl_links=False, unfurl_media=False)', 'text=reply.text, blocks=reply.blocks)'),
 ("DM dedupe removed", "bot/slack/handlers.py", 'return answerer.store.first_time(body.get("event_id") or event["ts"], f"{event[\'channel\']}:{event[\'ts\']}")', 'return answerer.store.first_time(body.get("event_id") or event["ts"])'),
 ("top-level text not escaped", "bot/slack/blocks.py", 'return clip(escape(answer.text), MAX_TEXT)', 'return clip(answer.text, MAX_TEXT)'),
 ("verbatim dropped", "bot/slack/blocks.py", '"verbatim": True}', '"verbatim": False}'),
 ("429 not retried", "bot/slack/app.py", 'retry_handlers=list(RETRIES)', 'retry_handlers=[]'),
 ("thanks voter by name in channel", "bot/slack/blocks.py", 'mrkdwn(f"👍 {up} · 👎 {down}")', 'mrkdwn(f"Merci <@U1> 👍 {up} · 👎 {down}")'),
]
for name, path, old, new in M:
    p = pathlib.Path(path); src = p.read_text()
    assert src.count(old) == 1, (name, src.count(old))
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run([".venv/bin/python", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/test_slack.py", "tests/test_slack_blocks.py"], check=False, capture_output=True, text=True, timeout=600)
        print(f"{name}: {'CAUGHT' if r.returncode else 'MISSED'} {r.stdout.strip().splitlines()[-1]}")
    finally:
        p.write_text(src)
