"""The Slack edge: Bolt app and listeners (app.py), Block Kit (blocks.py), votes and dedupe (store.py), the shape check of
signed requests (payload.py), manifest.yml."""
