"""Push a release folder to the Hugging Face Hub with `huggingface_hub`: the token is checked before any
work, the repo is created if needed, and the upload is resumable — files already on the Hub with the same
content (LFS sha256 or git blob id) are skipped, and the rest go in commits of bounded size, so an
interrupted push loses at most one commit and a re-run continues where it stopped. Never prints the token."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from mmabench.media import sha256_file


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
        raise PushError(
            f"the Hub rejected the token ({e.response.status_code if e.response is not None else e}); "
            "nothing was exported or uploaded"
        ) from None
    except OSError as e:
        raise PushError(f"cannot reach the Hub ({type(e).__name__}); nothing was exported or uploaded") from None
    return who.get("name", "?")


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: Optional[str] = None,
    files_per_commit: int = 50,
    bytes_per_commit: int = 1 << 30,
) -> dict:
    """Upload what the Hub does not already have; returns counts (uploaded, skipped, commits) and the URL."""
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    folder = Path(folder)
    api = _api()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        try:
            remote = {
                f.path: f
                for f in api.list_repo_tree(repo_id, repo_type="dataset", revision=revision, recursive=True)
                if hasattr(f, "blob_id")
            }
        except (RepositoryNotFoundError, RevisionNotFoundError):
            remote = {}
        local = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
        todo, skipped = [], 0
        for p in local:
            rel = p.relative_to(folder).as_posix()
            r = remote.get(rel)
            if r is not None and (
                (r.lfs and r.lfs.sha256 == sha256_file(p)) or (not r.lfs and r.blob_id == _git_blob_id(p))
            ):
                skipped += 1
            else:
                todo.append((rel, p))
        commits, batch, size = 0, [], 0
        # README.md last: the card names configs whose data must already be there
        todo.sort(key=lambda t: (t[0] == "README.md", t[0]))
        for i, (rel, p) in enumerate(todo):
            batch.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(p)))
            size += p.stat().st_size
            if len(batch) >= files_per_commit or size >= bytes_per_commit or i == len(todo) - 1:
                api.create_commit(
                    repo_id,
                    operations=batch,
                    repo_type="dataset",
                    revision=revision,
                    commit_message=f"mmabench release: {len(batch)} files",
                )
                commits, batch, size = commits + 1, [], 0
    except HfHubHTTPError as e:
        code = e.response.status_code if e.response is not None else "?"
        raise PushError(f"push to {repo_id} failed (HTTP {code}); re-run the same command to resume") from None
    except OSError as e:  # network errors, including hf_xet's
        raise PushError(
            f"push to {repo_id} failed ({type(e).__name__}: {str(e)[:200]}); re-run the same command to resume"
        ) from None
    return {"url": f"{api.endpoint}/datasets/{repo_id}", "uploaded": len(todo), "skipped": skipped, "commits": commits}
