"""Push a release folder to the Hugging Face Hub with `huggingface_hub`: the token is checked before any
work, the repo is created if needed, and the upload is resumable (`upload_large_folder` keeps per-file
progress in the folder, so an interrupted push continues where it stopped). The token is never printed."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


class PushError(RuntimeError):
    pass


def _api():
    from huggingface_hub import HfApi

    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if not token:
        raise PushError("set HF_TOKEN (a write token) to push; nothing was exported or uploaded")
    return HfApi(endpoint=os.environ.get("HF_ENDPOINT"), token=token)


def check_token() -> str:
    from huggingface_hub.errors import HfHubHTTPError

    try:
        who = _api().whoami()
    except HfHubHTTPError as e:
        raise PushError(f"the Hub rejected the token ({e.response.status_code if e.response is not None else e}); "
                        "nothing was exported or uploaded") from None
    except OSError as e:
        raise PushError(f"cannot reach the Hub ({type(e).__name__}); nothing was exported or uploaded") from None
    return who.get("name", "?")


def push_folder(folder: str | Path, repo_id: str, *, private: bool = False, revision: Optional[str] = None) -> str:
    from huggingface_hub.errors import HfHubHTTPError

    api = _api()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        api.upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", revision=revision,
                                print_report=False)
    except HfHubHTTPError as e:
        code = e.response.status_code if e.response is not None else "?"
        raise PushError(f"push to {repo_id} failed (HTTP {code}); re-run the same command to resume") from None
    return f"{api.endpoint}/datasets/{repo_id}"
