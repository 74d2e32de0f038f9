"""`mmabench serve`: a read-only web viewer over the manifest (items, answers, runs, clips and filter decisions).

Starlette + Jinja2, server-rendered pages, no CDN and no build step; the media store is served with HTTP
range requests. Install with the `serve` extra."""
