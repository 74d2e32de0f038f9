"""Stage `tag` + `filter`: model taggers (one module each, lazy registry), the batched runner, and the
study's four-check audio-visual consistency filter. Reads clips from the manifest, writes tags and decisions."""
