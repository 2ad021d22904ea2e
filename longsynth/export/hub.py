"""Publishing a built folder to the Hugging Face Hub, in one commit.

The folder is checked against its manifest first (every listed file present
with its sha256), so a half-built or edited folder is never published. The
token comes from `--token`, `HF_TOKEN` or the stored `hf auth login`;
it is passed to `huggingface_hub` only, and scrubbed from any error text, so
it never reaches a file, a log or a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..dataset import open_dataset
from ..errors import LongsynthError
from ..inspect import require_valid
from .layout import STATE_DIR
from .manifest import MANIFEST


class PushError(LongsynthError):
    """The Hub refused or failed the upload."""


@dataclass
class UploadPlan:
    folder: Path
    files: list[str]  # relative paths, sorted
    bytes: int


def plan_upload(folder: str | Path) -> UploadPlan:
    """What a push sends: the card, the manifest and every data file it lists (never resume state), of
    a folder that matches its manifest and whose rows pass validation."""
    root = Path(folder)
    dataset = open_dataset(root)
    require_valid(dataset)
    files = sorted({*dataset.manifest["files"], MANIFEST})
    return UploadPlan(root, files, sum((root / f).stat().st_size for f in files))


def _scrub(text: str, token: str | None) -> str:
    """One line, with the token masked."""
    text = " ".join(text.split())
    return text.replace(token, "***") if token else text


def push(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    tag: str | None = None,
) -> str:
    """Create the dataset repo if needed and upload the folder in one commit, tagged `tag` when given
    (a release: `load_dataset(repo, config, revision=tag)` reads exactly it); returns the commit URL."""
    import huggingface_hub  # heavy: imported only for a real push
    from huggingface_hub import HfApi

    plan = plan_upload(folder)
    token = token or huggingface_hub.get_token()
    if not token:
        raise PushError("no Hugging Face token: pass --token, set HF_TOKEN, or run `hf auth login`")
    version = open_dataset(plan.folder).manifest["spec"].get("version", "")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(plan.folder),
            repo_id=repo_id,
            repo_type="dataset",
            revision=revision,
            allow_patterns=plan.files,
            ignore_patterns=[f"{STATE_DIR}/*"],
            commit_message=message or f"longsynth dataset version {version}".strip(),
        )
        if tag:
            api.create_tag(
                repo_id,
                tag=tag,
                revision=getattr(commit, "oid", None) or revision,
                tag_message=f"longsynth dataset version {version}".strip(),
                repo_type="dataset",
            )
    except Exception as exc:  # every Hub failure becomes one line, without the token
        raise PushError(f"upload to {repo_id!r} failed: {_scrub(f'{type(exc).__name__}: {exc}', token)}") from None
    return str(getattr(commit, "commit_url", commit))
