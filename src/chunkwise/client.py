"""A thin HTTP client of the chunkwise API, for the CLI."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """Raised when the API answers with an error status or cannot be reached."""


class ApiClient:
    """Calls the jobs API at `base_url`."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def submit(self, kind: str, params: dict[str, Any], chunks: int) -> dict[str, Any]:
        return self._call(
            "POST", "/api/jobs", json={"kind": kind, "params": params, "chunks": chunks}
        )

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/jobs/{job_id}/cancel")

    def jobs(self, *, limit: int, offset: int = 0) -> dict[str, Any]:
        return self._call("GET", "/api/jobs", params={"limit": limit, "offset": offset})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self._http.base_url}: {exc}") from exc
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(f"{response.status_code}: {detail}")
        body: dict[str, Any] = response.json()
        return body
