"""Qdrant client: a server over REST, or an embedded store (qdrant-client local mode).

The probe reads a server with plain HTTP (httpx) so that ``check`` never
imports qdrant-client (about 0.6 s) unless the target is embedded. Request
duration and queries per second come from the server's ``/metrics`` (or
``/telemetry``); where neither exposes them the value is unknown, not zero.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure

if TYPE_CHECKING:
    import httpx
    from qdrant_client.local.qdrant_local import QdrantLocal as EmbeddedClient

    from alfred_tui.backends.base import Endpoint
    from alfred_tui.config.models import QdrantService

#: Endpoints our own probes call; left out of request figures so looking does not count.
PROBE_PATHS = (
    "/metrics",
    "/telemetry",
    "/healthz",
    "/readyz",
    "/livez",
    "/",
    "/cluster",
    "/collections/{name}/cluster",
)
# Label values may hold braces: Qdrant's endpoint label is a route like "/collections/{name}".
_SAMPLE_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class QdrantTarget:
    """A Qdrant server URL or an embedded storage folder; the API key stays masked."""

    url: str | None = None
    path: str | None = None
    api_key: SecretStr | None = None

    @classmethod
    def from_profile(cls, service: QdrantService, endpoint: Endpoint) -> QdrantTarget:
        """The target for a profile's service at the endpoint a backend gave."""
        if endpoint.embedded:
            return cls(path=endpoint.path)
        return cls(url=endpoint.url("http"), api_key=service.api_key)

    @property
    def embedded(self) -> bool:
        """Whether this is an embedded store rather than a server."""
        return self.path is not None

    @property
    def address(self) -> str:
        """The URL, or ``embedded:<path>``."""
        return f"embedded:{self.path}" if self.embedded else str(self.url)


@functools.cache
def _client_version() -> str:
    """qdrant-client's version (read from its metadata once: a scan of site-packages)."""
    from importlib.metadata import version

    return version("qdrant-client")


class QdrantBusy(DatabaseUnavailable):
    """The embedded store is held by another process (qdrant-client allows one)."""


@dataclass(frozen=True)
class RequestStats:
    """Cumulative request figures from a server's metrics."""

    requests_total: int
    avg_duration_seconds: float | None
    source: str
    """``metrics`` or ``telemetry``."""


@dataclass(frozen=True)
class QdrantSample:
    """One reading of a Qdrant target."""

    taken_at: float
    embedded: bool
    version: str
    collections: list[str] = field(default_factory=list)
    requests: RequestStats | None = None
    own_requests: int = 0
    """Requests this sample made (outside :data:`PROBE_PATHS`) before reading the
    request figures: the server counted them, so the rate leaves them out."""


def _unescape(value: str) -> str:
    """A label value with the exposition format's escapes (``\\``, ``\"``, ``\n``) undone."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of a Prometheus text exposition: (name, labels, value)."""
    samples: list[tuple[str, dict[str, str], float]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_LINE.match(line)
        if not match:
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        pairs = {key: _unescape(value) for key, value in _LABEL.findall(labels or "")}
        samples.append((name, pairs, number))
    return samples


def _is_probe(endpoint: str) -> bool:
    path = endpoint.split(" ", 1)[-1]
    return path in PROBE_PATHS


def request_stats_from_metrics(text: str) -> RequestStats | None:
    """Requests and their mean duration from ``/metrics`` (REST and gRPC).

    Qdrant labels each series by endpoint, method *and status*, with an
    average per status; the mean is weighted by each series' own count.
    """
    counts: dict[tuple[str, str, str], float] = {}
    averages: dict[tuple[str, str, str], float] = {}
    for name, labels, value in parse_prometheus(text):
        for protocol in ("rest", "grpc"):
            endpoint = labels.get("endpoint", "")
            if _is_probe(endpoint):
                continue
            key = (protocol, f"{labels.get('method', '')} {endpoint}", labels.get("status", ""))
            if name == f"{protocol}_responses_total":
                counts[key] = counts.get(key, 0.0) + value
            elif name == f"{protocol}_responses_avg_duration_seconds":
                averages[key] = value
    if not counts and not averages:
        return None
    total = int(sum(counts.values()))
    weighted = sum(averages.get(key, 0.0) * count for key, count in counts.items())
    average = weighted / total if total else None
    return RequestStats(total, average, "metrics")


def request_stats_from_telemetry(payload: dict[str, Any]) -> RequestStats | None:
    """Requests and their mean duration from ``/telemetry``'s requests section."""
    requests = (payload.get("result") or {}).get("requests") or {}
    total = 0
    weighted = 0.0
    found = False
    for protocol in ("rest", "grpc"):
        responses = (requests.get(protocol) or {}).get("responses") or {}
        for endpoint, by_status in responses.items():
            found = True
            if _is_probe(endpoint):
                continue
            statuses = by_status.values() if isinstance(by_status, dict) else [by_status]
            for stats in statuses:
                count = int(stats.get("count", 0))
                total += count
                weighted += count * float(stats.get("avg_duration_micros", 0.0)) / 1e6
    if not found:
        return None
    return RequestStats(total, weighted / total if total else None, "telemetry")


class QdrantClient:
    """Reads one Qdrant target, server or embedded, with timeouts on everything."""

    def __init__(self, target: QdrantTarget, *, timeout: float = 5.0) -> None:
        self.target = target
        self.timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self._embedded: EmbeddedClient | None = None

    def failure(self, exc: BaseException) -> DatabaseUnavailable:
        """``exc`` (from httpx or qdrant-client) as one line naming the target."""
        if self.target.embedded:
            message = str(exc)
            if "already accessed by another instance" in message:
                return QdrantBusy(f"embedded store {self.target.path} is held by another process")
            return DatabaseUnavailable(f"embedded store {self.target.path}: {message[:160]}")
        import httpx

        host = httpx.URL(self.target.url or "").host
        port = httpx.URL(self.target.url or "").port
        return DatabaseUnavailable(
            describe_failure(exc, host=host, port=port, timeout=self.timeout)
        )

    def http(self) -> httpx.AsyncClient:
        """The pooled HTTP client for a server target."""
        import httpx

        if self._http is None:
            headers = (
                {"api-key": self.target.api_key.get_secret_value()} if self.target.api_key else {}
            )
            self._http = httpx.AsyncClient(
                base_url=self.target.url or "", headers=headers, timeout=self.timeout
            )
        return self._http

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; a failed connection or a refused api-key becomes one line."""
        try:
            response = await self.http().request(method, path, **kwargs)
        except Exception as exc:
            raise self.failure(exc) from None
        if response.status_code == 401:
            raise DatabaseUnavailable(f"authentication failed ({self.target.address}): api-key")
        if response.status_code == 403:
            raise DatabaseUnavailable(
                f"forbidden ({self.target.address}): the api-key may not {method} {path}"
            )
        return response

    async def get_json(self, path: str) -> Any:
        """GET ``path`` and decode JSON; HTTP errors become one line."""
        response = await self.request("GET", path)
        if response.status_code >= 400:
            raise DatabaseUnavailable(
                f"HTTP {response.status_code} on {path} ({self.target.address})"
            )
        try:
            return response.json()
        except ValueError:
            raise DatabaseUnavailable(
                f"not a Qdrant server: {path} did not answer JSON ({self.target.address})"
            ) from None

    async def _get_text(self, path: str) -> str | None:
        try:
            response = await self.http().get(path)
        except Exception:
            return None
        return response.text if response.status_code == 200 else None

    def embedded_client(self) -> EmbeddedClient:
        """qdrant-client's local mode (imports qdrant-client on first use).

        Its engine, ``QdrantLocal``, is opened directly: ``QdrantClient(path=...)``
        wraps the same object and adds a model inspector that takes 5-8 ms of CPU
        to build, and the store is opened again for every reading (one client at
        a time may hold it, see ``LiveSource.probe``): most of what a Qdrant
        poll cost the UI. It answers the same calls (get, create, upsert...).
        """
        if self._embedded is None:
            from qdrant_client.local.qdrant_local import QdrantLocal

            self._embedded = QdrantLocal(location=str(self.target.path))
        return self._embedded

    async def sample(self) -> QdrantSample:
        """One reading: version, collections and request figures where exposed.

        In this order: ``/`` (not counted by the server; a server that is down
        fails here, within one timeout), then the request counters, then
        ``/collections``, the probe's one counted request. Qdrant counts a
        request once its reply is sent, so counters read just after it may or
        may not include it yet; read before it, each sample's own request is
        always in the next sample's count, where :attr:`QdrantSample.own_requests`
        takes it out again.
        """
        if self.target.embedded:
            return await self._sample_embedded()
        root = await self.get_json("/")
        requests = await self._request_stats()
        collections = await self.get_json("/collections")
        try:
            names = [c["name"] for c in collections["result"]["collections"]]
            version = str(root.get("version", ""))
        except (KeyError, TypeError, AttributeError):
            raise DatabaseUnavailable(
                f"not a Qdrant server: unexpected reply to /collections ({self.target.address})"
            ) from None
        return QdrantSample(
            taken_at=time.time(),
            embedded=False,
            version=version,
            collections=sorted(names),
            requests=requests,
            own_requests=1,  # GET /collections; "/" and the figures' own paths are not counted
        )

    async def _request_stats(self) -> RequestStats | None:
        """The server's request counters, from ``/metrics`` or else ``/telemetry``."""
        metrics_text = await self._get_text("/metrics")
        if metrics_text is not None:
            requests = request_stats_from_metrics(metrics_text)
            if requests is not None:
                return requests
        try:
            return request_stats_from_telemetry(await self.get_json("/telemetry"))
        except DatabaseUnavailable:
            return None

    async def _sample_embedded(self) -> QdrantSample:
        if not embedded_store_exists(self.target.path or ""):
            # qdrant-client would create an empty store here; a probe must not.
            raise DatabaseUnavailable(
                f"embedded store {self.target.path} does not exist (deploy first: alfred-tui up)"
            )

        def read() -> list[str]:
            response = self.embedded_client().get_collections()
            return sorted(c.name for c in response.collections)

        try:
            names = await asyncio.wait_for(asyncio.to_thread(read), self.timeout)
        except Exception as exc:
            raise self.failure(exc) from None
        client_version = _client_version()
        return QdrantSample(
            taken_at=time.time(),
            embedded=True,
            version=f"embedded (qdrant-client {client_version})",
            collections=names,
        )

    async def close(self) -> None:
        """Close the HTTP pool and release the embedded store's lock."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()
        embedded, self._embedded = self._embedded, None
        if embedded is not None:
            await asyncio.to_thread(embedded.close)

    async def __aenter__(self) -> QdrantClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def embedded_store_exists(path: str) -> bool:
    """Whether ``path`` holds a qdrant-client local-mode store (it writes ``meta.json``)."""
    from pathlib import Path

    return (Path(path) / "meta.json").is_file()


def queries_per_second(current: QdrantSample, previous: QdrantSample | None) -> float | None:
    """Requests per second between two samples, not counting the probe's own; None without
    a usable pair (or when the counters went backwards: the server restarted)."""
    if previous is None or current.requests is None or previous.requests is None:
        return None
    elapsed = current.taken_at - previous.taken_at
    delta = current.requests.requests_total - previous.requests.requests_total
    if elapsed <= 0 or delta < 0:
        return None
    return max(0, delta - current.own_requests) / elapsed


def qdrant_metrics(
    sample: QdrantSample, previous: QdrantSample | None
) -> dict[str, tuple[float | None, str]]:
    """The spec's Qdrant metrics from a sample: name -> (value, note)."""
    if sample.embedded:
        missing = "not exposed by embedded mode"
        duration: tuple[float | None, str] = (None, missing)
        qps: tuple[float | None, str] = (None, missing)
    elif sample.requests is None:
        missing = "server exposes neither /metrics nor /telemetry request figures"
        duration, qps = (None, missing), (None, missing)
    else:
        average = sample.requests.avg_duration_seconds
        duration = (average, f"mean since start, from {sample.requests.source}")
        if average is None:
            duration = (None, "no requests served yet")
        rate = queries_per_second(sample, previous)
        qps = (rate, "" if rate is not None else "needs a previous sample")
    return {
        "qdrant_up": (1.0, ""),
        "qdrant_collections_count": (float(len(sample.collections)), ""),
        "qdrant_request_duration_seconds": duration,
        "qdrant_queries_per_second": qps,
    }
