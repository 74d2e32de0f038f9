"""Credentials out of URLs, secret-named options, key-looking tokens out of free text; the rest untouched."""

from mmabench.schema.redact import redact_options, redact_url, scrub_text, url_secrets


def test_urls_lose_credentials_and_keep_the_rest():
    assert (
        redact_url("https://bob:hunter2@api.x.com/v1?key=abc123&x=1")
        == "https://bob:REDACTED@api.x.com/v1?key=REDACTED&x=1"
    )
    assert (
        redact_url("https://m.example/w?v={ytid}&X-Amz-Signature=f00&start={start}")
        == "https://m.example/w?v={ytid}&X-Amz-Signature=REDACTED&start={start}"
    )
    assert redact_url("https://www.youtube.com/watch?v={ytid}") == "https://www.youtube.com/watch?v={ytid}"
    assert url_secrets("http://u:pw@h/v1?token=t1&a=b") == ["pw", "t1"]


def test_options_named_like_secrets_are_redacted():
    got = redact_options(
        {
            "api_key": "sk-1",
            "hf_token": "x",
            "frames": 8,
            "keyframes": True,
            "api_key_env": "OPENAI_API_KEY",
            "base_url": "http://u:p@h/v1",
            "nested": {"password": "p"},
        }
    )
    assert got == {
        "api_key": "REDACTED",
        "hf_token": "REDACTED",
        "frames": 8,
        "keyframes": True,
        "api_key_env": "OPENAI_API_KEY",
        "base_url": "http://u:REDACTED@h/v1",
        "nested": {"password": "REDACTED"},
    }


def test_text_is_scrubbed_of_the_known_key_and_key_like_tokens():
    body = 'Error 401: {"message": "Incorrect API key provided: Bearer sk-abcdef123456, api_key=zzzzzzzz"} my-own-k3y'
    out = scrub_text(body, ["my-own-k3y"])
    assert "sk-abcdef" not in out and "zzzzzzzz" not in out and "my-own-k3y" not in out
    assert out.startswith("Error 401:") and "api_key=REDACTED" in out
    assert scrub_text("The answer is Cat.") == "The answer is Cat."
