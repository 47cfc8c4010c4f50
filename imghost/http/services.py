"""The long-lived parts one app process works with, opened once per process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from imghost.auth import KeyCache
from imghost.http.hotimages import HotImages
from imghost.http.requestlog import RequestRecords
from imghost.limits import Limiter
from imghost.recent import RecentUploads
from imghost.repo.base import Repo, Upload, Variant
from imghost.settings.runtime import SettingsCache
from imghost.settings.startup import Config
from imghost.store.registry import Stores
from imghost.variants import Variants
from imghost.vision.report import fetchability_warnings


@dataclass(frozen=True, slots=True)
class Services:
    config: Config
    repo: Repo
    keys: KeyCache
    stores: Stores
    limiter: Limiter
    settings: SettingsCache
    spool_dir: Path
    recent: RecentUploads
    variants: Variants
    # This worker's access-log lines and request metrics not yet written.
    requests: RequestRecords
    # Whole-file answers of the images this worker serves most, for the fast path.
    hot: HotImages

    def public_url(self, settings: dict[str, Any], request: Request) -> str:
        """Base of returned URLs: the run-time setting, else the start-up one.

        A server listening on all interfaces has no address of its own to give out, so it
        answers with the address the client reached it at.
        """
        base = settings["public_url"] or self.config.public_url
        if urlsplit(base).hostname in ("0.0.0.0", "::"):
            return str(request.base_url).rstrip("/")
        return base

    def url_of(
        self,
        upload: Upload,
        settings: dict[str, Any],
        request: Request,
        variant: Variant | None = None,
    ) -> str:
        """The URL to hand out for the upload (or one of its variants): the store's own public
        one, else ours."""
        image: Upload | Variant = variant or upload
        store = self.stores.get(upload.store, settings)
        own = store.public_url(image.where)
        return own or f"{self.public_url(settings, request)}/{image.storage_key}"

    def url_warnings(self, settings: dict[str, Any], request: Request) -> list[str]:
        redirects = (
            settings["storage.backend"] == "s3" and settings["storage.s3.get_mode"] == "redirect"
        )
        return fetchability_warnings(self.public_url(settings, request), redirects)


def services_of(request: Request) -> Services:
    return request.app.state.services
