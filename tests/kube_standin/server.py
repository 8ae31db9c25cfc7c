"""The Kubernetes API-server stand-in: kmock 0.8's emulator, made realistic.

There is no Kubernetes cluster on the test machines, so the Kubernetes
backend is tested against this stand-in, and everything verified this way is
verified only against it (see docs/kubernetes.md). kmock 0.8's
``KubernetesEmulator`` keeps objects in memory but, compared with a real API
server, it: cannot parse ``/api/v1/namespaces``; takes the namespace from the
body; ignores label and field selectors; fills no uid, resourceVersion,
creationTimestamp or generation; lists without kind/apiVersion; reports the
core group version as ``/v1``; serves ``/version`` as 1.26; has no PUT,
deletecollection, server-side apply, scale subresource, pod logs, exec or
port-forward; and nothing reacts to a StatefulSet. This subclass serves all
of those itself and keeps kmock for what it is good at: the aiohttp server on
loopback, request recording (``server.requests``-style assertions through
kmock's views), object histories in ``server.objects``, and its DSL for fault
injection, which always takes precedence (``server["get", resource] << 500``).

Beyond that it authenticates bearer tokens and authorizes with RBAC rules
(:mod:`.rbac`), tracks field ownership for server-side apply (:mod:`.fields`),
deletes gracefully (pods wait for their kubelet, objects for their
finalizers), sends watch bookmarks and compacts old watch events (410), and
tells its node's kubelet of every pod change; the controllers
(:mod:`.controllers`) and the kubelet (:mod:`.kubelet`, or
:mod:`.fake_kubelet`) do the rest. Logs, exec and port-forward are proxied to
the kubelet (:mod:`.streams`). What is simplified, on purpose: one node, no
admission beyond PVC protection, no API aggregation, no CRDs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime as dt
import itertools
import json
import re
import uuid
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import enums, parsing, rendering

from . import fields, patching, rbac, selectors
from .controllers import FOREGROUND, ORPHAN, PVC_PROTECTION
from .resources import (
    REVIEWS,
    TYPES,
    ResourceType,
    Route,
    discovery_group,
    discovery_groups,
    discovery_resource_list,
    find_type,
    parse_path,
)

Obj = dict[str, Any]
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_BINARY_ENCODINGS = {"application/vnd.kubernetes.protobuf", "application/cbor"}
"""Request encodings the stand-in does not read (real API servers read protobuf)."""
STAND_IN_TOKEN = "stand-in-token"
"""The administrator's token, in every kubeconfig the stand-in writes by default."""
_SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_IMMUTABLE_STS = ("selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy")


def now() -> dt.datetime:
    """The current time, UTC."""
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime | None = None) -> str:
    """``2024-05-13T10:00:00Z`` (seconds, as metadata timestamps are)."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(moment: dt.datetime) -> str:
    """``2024-05-13T10:00:00.123456000Z`` (as the kubelet prefixes log lines)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


class ApiError(Exception):
    """An error the API answers with a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> Obj:
        """The ``Status`` object."""
        status: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status

    def response(self) -> aiohttp.web.Response:
        """The HTTP response."""
        return aiohttp.web.json_response(self.status(), status=self.code)


def not_found(rt: ResourceType, name: str) -> ApiError:
    """404 as the API words it."""
    return ApiError(
        404,
        "NotFound",
        f'{rt.qualified} "{name}" not found',
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid with one cause per field."""
    text = "; ".join(f"{field}: {message}" for field, message in causes)
    return ApiError(
        422,
        "Invalid",
        f'{rt.kind}.{rt.group or "core"} "{name}" is invalid: {text}'.replace(".core", ""),
        {
            "name": name,
            "group": rt.group,
            "kind": rt.kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": f"Invalid value: {message}", "field": f}
                for f, message in causes
            ],
        },
    )


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _without_bookkeeping(obj: Obj) -> Obj:
    copied = copy.deepcopy(obj)
    for field in ("resourceVersion", "managedFields"):
        copied.get("metadata", {}).pop(field, None)
    return copied


@attrs.define(kw_only=True)
class StandInApiServer(kmock.KubernetesEmulator):
    """A Kubernetes API-server stand-in on loopback (see the module docstring)."""

    minor: int = 31
    """Served Kubernetes minor version (``/version``)."""
    kubelet: Any = None
    """The node's kubelet (:mod:`.fake_kubelet` or :mod:`.kubelet`), told of every pod change."""
    namespace_grace: float = 5.0
    """Seconds a deleted namespace keeps its content (Kubernetes' namespaceDeletionGracePeriod)."""
    bookmark_seconds: float = 60.0
    """How often a watch that asked for bookmarks gets one (the API server: about a minute)."""
    journal_seconds: float = 300.0
    """How long watch events are kept (etcd compacts every 5 minutes): older versions get 410."""
    users: dict[str, Any] = attrs.field(factory=dict)
    """Bearer token -> :class:`~.rbac.User` (no token: the administrator)."""
    delays: dict[tuple[str, str], float] = attrs.field(factory=dict)
    """(HTTP method, resource plural) -> seconds to wait before answering: a slow API."""
    failures: dict[tuple[str, str], list[Any]] = attrs.field(factory=dict)
    """(HTTP method, resource plural) -> [HTTP status, how many more requests fail]."""

    _rv: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1000), init=False)
    _current_rv: int = attrs.field(default=1000, init=False)
    _journal: list[tuple[int, ResourceType, str | None, str, Obj]] = attrs.field(
        factory=list, init=False
    )
    _compacted_rv: int = attrs.field(default=0, init=False)
    _changed: asyncio.Condition | None = attrs.field(default=None, init=False)
    _applied: dict[tuple[Any, ...], Obj] = attrs.field(factory=dict, init=False)
    _kick: asyncio.Event | None = attrs.field(default=None, init=False)
    _tasks: set[asyncio.Task[Any]] = attrs.field(factory=set, init=False)
    _ips: itertools.count[int] = attrs.field(factory=lambda: itertools.count(10), init=False)
    _finished_pods: set[str] = attrs.field(factory=set, init=False)
    _ownership: dict[tuple[Any, ...], fields.Ownership] = attrs.field(factory=dict, init=False)
    _owner_times: dict[tuple[Any, ...], dict[Any, str]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        """Register none of kmock's fallbacks: this class serves every request itself."""

    # --- lifecycle ---------------------------------------------------------------

    async def __aenter__(self) -> StandInApiServer:
        from .controllers import ControlPlane

        await super().__aenter__()
        self._changed = asyncio.Condition()
        self._kick = asyncio.Event()
        if self.kubelet is None:
            from .fake_kubelet import FakeKubelet

            self.kubelet = FakeKubelet(self)
        await self.kubelet.start()
        for name in ("default", "kube-system"):  # as every cluster has them
            self.create(TYPES[0], None, {"metadata": {"name": name}}, "kube-apiserver")
        self.spawn(self._control_loop(ControlPlane(self)))
        self.spawn(self._compaction_loop())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        try:
            await self.kubelet.close()
        finally:
            await super().__aexit__(*exc_info)

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` in the server's loop; cancelled when the server stops."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def notify(self) -> None:
        """Wake every watch, followed log and waiter (something changed)."""
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def changed(self, timeout: float) -> None:
        """Wait until something changes, ``timeout`` seconds at most."""
        assert self._changed is not None
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    async def _control_loop(self, control: Any) -> None:
        assert self._kick is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), 0.5)
            self._kick.clear()
            await asyncio.sleep(0.005)  # let a burst of writes settle
            try:
                control.reconcile()
            except Exception as exc:  # a stand-in bug: keep it for the test, keep running
                if self._errors:
                    self._errors[-1].append(exc)

    async def _compaction_loop(self) -> None:
        """Forget watch events older than :attr:`journal_seconds`, as etcd compaction does."""
        loop = asyncio.get_running_loop()
        marks: list[tuple[float, int]] = []
        while True:
            await asyncio.sleep(min(30.0, self.journal_seconds / 4))
            marks.append((loop.time(), self._current_rv))
            horizon = loop.time() - self.journal_seconds
            expired = [rv for moment, rv in marks if moment <= horizon]
            if expired:
                self.compact(max(expired))
                marks = [(m, rv) for m, rv in marks if m > horizon]

    # --- request entry -----------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Parse the request with correct paths, record it, then serve it."""
        await raw_request.read()
        try:
            request = await self._parse(raw_request)
            self._requests.append(request)
            try:
                return await self._handle(request)
            except rendering.StreamingError as exc:  # a DSL stream failed midway
                raise (exc.__cause__ or exc) from None
        except ApiError as exc:
            return exc.response()
        except Exception as exc:  # a bug here: answer 500 like the API, and keep it for the test
            if self._errors:
                self._errors[-1].append(exc)
            return ApiError(500, "InternalError", f"stand-in failure: {exc!r}").response()

    async def _parse(self, raw_request: aiohttp.web.BaseRequest) -> rendering.Request:
        body = await raw_request.read()
        text = body.decode("utf-8", "replace")
        data: Any = None
        if body:
            try:
                data = json.loads(text)
            except ValueError:
                with contextlib.suppress(yaml.YAMLError):
                    data = yaml.safe_load(text)
        route = parse_path(raw_request.path)
        method = enums.method(raw_request.method)
        resource = None
        if route is not None and route.plural:
            resource = kmock.resource(route.group, route.version, route.plural)
        k8s = parsing.ParsedPath(
            route.group if route else None,
            route.version if route else None,
            route.plural if route else None,
            route.namespace if route else None,
            route.name if route else None,
            route.subresource if route else None,
        )
        return rendering.Request(
            id=len(self._requests),
            raw_request=raw_request,
            url=raw_request.url,
            method=raw_request.method,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            cookies=dict(raw_request.cookies),
            data=data,
            body=body,
            text=text,
            action=parsing.guess_k8s(k8s, method, dict(raw_request.query)),
            resource=resource,
            namespace=route.namespace if route else None,
            name=route.name if route else None,
            subresource=route.subresource if route else None,
        )

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        """The test's DSL reactions first (fault injection), then the API itself."""
        plural = request.resource.plural if request.resource is not None else ""
        delay = self.delays.get((str(request.method.value), plural or ""))
        if delay:
            await asyncio.sleep(delay)
        failure = self.failures.get((str(request.method.value), plural or ""))
        if failure and failure[1] > 0:
            failure[1] -= 1
            raise ApiError(failure[0], "InternalError", f"stand-in fault: HTTP {failure[0]}")
        try:
            return await kmock.RawHandler._handle(self, request)
        except NotImplementedError:
            pass
        self._authorize(request)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        route = parse_path(request._raw_request.path) if request._raw_request else None
        reviewing = route is not None and route.plural == REVIEWS.plural
        if request.body and reviewing and content_type == "application/vnd.kubernetes.protobuf":
            # kubectl auth can-i sends its review in protobuf only; answer it in JSON.
            with contextlib.suppress(ValueError, IndexError):
                decoded = rbac.access_review_from_protobuf(request.body)
                if request._raw_request.method == "POST":
                    return aiohttp.web.json_response(self.review(request, decoded), status=201)
        if request.body and content_type in _BINARY_ENCODINGS:
            # As an API server built without them answers; clients fall back to JSON.
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f'include: application/json, application/yaml (got "{content_type}")',
            )
        return await self._serve(request)

    def user_of(self, request: rendering.Request) -> Any:
        """The request's user: its bearer token's (401 for a token nobody has), or the one it
        impersonates (``Impersonate-User``: kubectl sends no token over plain HTTP, so the
        kubeconfigs the stand-in writes name their user with ``as`` too)."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        user = rbac.ADMIN
        if token and token != STAND_IN_TOKEN:
            if token not in self.users:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            user = self.users[token]
        wanted = request.headers.get("Impersonate-User")
        if wanted and wanted != user.name:
            if user is not rbac.ADMIN:
                raise ApiError(
                    403, "Forbidden", f'users "{wanted}" is forbidden: User "{user.name}" '
                    'cannot impersonate resource "users" in API group "" at the cluster scope',
                )  # fmt: skip
            known = {u.name: u for u in self.users.values()}
            if wanted not in known:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            user = known[wanted]
        return user

    def _authorize(self, request: rendering.Request) -> None:
        """RBAC: 403, as the API words it, for a verb the user's rules do not grant."""
        raw = request._raw_request
        assert raw is not None
        user = self.user_of(request)
        route = parse_path(raw.path)
        if route is None or route.plural is None:
            return  # discovery, /version, /healthz: every authenticated user
        rt = find_type(route.group, route.version, route.plural)
        if rt is None or rt is REVIEWS:
            return
        sub = route.subresource
        verb = rbac.verb_of(
            raw.method, route.name is not None, raw.query.get("watch") in ("true", "1"), sub
        )
        resource = rt.plural + (f"/{sub}" if sub else "")
        namespace = route.namespace if rt.namespaced else None
        if not user.can(verb, rt.group, resource, namespace):
            raise ApiError(
                403,
                "Forbidden",
                rbac.forbidden_message(user, verb, rt, sub, route.name, namespace),
                {"name": route.name or "", "group": rt.group, "kind": rt.plural},
            )

    def review(self, request: rendering.Request, body: Obj | None = None) -> Obj:
        """A ``SelfSubjectAccessReview``: may the caller do what it asks about?"""
        body = self._body(request) if body is None else body
        attributes = (body.get("spec") or {}).get("resourceAttributes") or {}
        resource = attributes.get("resource", "")
        if attributes.get("subresource"):
            resource += f"/{attributes['subresource']}"
        user = self.user_of(request)
        allowed = user.can(
            attributes.get("verb", ""),
            attributes.get("group", ""),
            resource,
            attributes.get("namespace") or None,
        )
        body["status"] = {"allowed": allowed}  # RBAC gives no reason for a "no"
        body.update(kind=REVIEWS.kind, apiVersion=REVIEWS.api_version)
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return body

    # --- routing -------------------------------------------------------------------

    async def _serve(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        method, path, query = raw.method, raw.path, raw.query
        if method == "GET" and path.rstrip("/") == "/version":
            return aiohttp.web.json_response(self.version_info())
        if method == "GET" and path in ("/healthz", "/livez", "/readyz"):
            return aiohttp.web.Response(text="ok")
        if method == "GET" and path == "/api":
            return aiohttp.web.json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": raw.host}
                    ],
                }
            )
        if method == "GET" and path == "/apis":
            return aiohttp.web.json_response(discovery_groups())
        group_only = re.fullmatch(r"/apis/([^/]+)/?", path)
        if method == "GET" and group_only:
            document = discovery_group(group_only.group(1))
            if document is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return aiohttp.web.json_response(document)
        route = parse_path(path)
        if route is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if route.plural is None:
            document = discovery_resource_list(route.group, route.version)
            if document is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return aiohttp.web.json_response(document)
        rt = find_type(route.group, route.version, route.plural)
        if rt is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = route.namespace if rt.namespaced else None
        if rt is REVIEWS:
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
            return aiohttp.web.json_response(self.review(request), status=201)
        if route.subresource:
            return await self._serve_subresource(request, rt, route)
        if route.name is None:
            if method == "GET" and query.get("watch") in ("true", "1"):
                return await self._watch(request, rt, namespace)
            if method == "GET":
                return self._respond(request, self.list_objects(rt, namespace, query))
            if method == "POST":
                if rt.namespaced and namespace is None:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
                created = self.create(rt, namespace, self._body(request), self._manager(request))
                return aiohttp.web.json_response(created, status=201)
            if method == "DELETE":
                return aiohttp.web.json_response(self.delete_collection(rt, namespace, query))
        else:
            if method == "GET":
                return self._respond(request, self.get(rt, namespace, route.name))
            if method == "PUT":
                body = self._body(request)
                return aiohttp.web.json_response(
                    self.replace(rt, namespace, route.name, body, self._manager(request))
                )
            if method == "PATCH":
                result, created = self.patch(rt, namespace, route.name, request)
                return aiohttp.web.json_response(result, status=201 if created else 200)
            if method == "DELETE":
                options = dict(request.data) if isinstance(request.data, dict) else {}
                for key in ("gracePeriodSeconds", "propagationPolicy"):
                    if key in query:
                        value = query[key]
                        options[key] = int(value) if key == "gracePeriodSeconds" else value
                return aiohttp.web.json_response(self.delete(rt, namespace, route.name, options))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    async def _serve_subresource(
        self, request: rendering.Request, rt: ResourceType, route: Route
    ) -> aiohttp.web.StreamResponse:
        from . import streams

        raw = request._raw_request
        assert raw is not None and route.name is not None
        sub = route.subresource
        namespace = route.namespace
        if sub not in rt.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub == "scale":
            if raw.method == "GET":
                return aiohttp.web.json_response(self.get_scale(namespace, route.name))
            if raw.method in ("PUT", "PATCH"):
                return aiohttp.web.json_response(self.update_scale(namespace, route.name, request))
        if sub == "status":
            obj = self.get(rt, namespace, route.name)
            if raw.method == "GET":
                return aiohttp.web.json_response(obj)
            body = self._body(request)
            if raw.method == "PATCH":
                body = {"status": patching.merge_patch(obj.get("status", {}), body.get("status"))}
            obj["status"] = body.get("status", {})
            return aiohttp.web.json_response(self.store(rt, namespace, route.name, obj))
        if sub == "log" and raw.method == "GET":
            return await streams.serve_logs(self, request, namespace or "", route.name)
        if sub == "exec" and raw.method in ("GET", "POST"):
            return await streams.serve_exec(self, request, namespace or "", route.name)
        if sub == "portforward" and raw.method in ("GET", "POST"):
            return await streams.serve_portforward(self, request, namespace or "", route.name)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    def version_info(self) -> Obj:
        """What ``/version`` answers."""
        return {
            "major": "1",
            "minor": str(self.minor),
            "gitVersion": f"v1.{self.minor}.0-alfred-stand-in",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.22",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # --- request helpers ---------------------------------------------------------

    @staticmethod
    def _body(request: rendering.Request) -> Obj:
        if not isinstance(request.data, dict):
            raise ApiError(400, "BadRequest", "the request body is not a JSON or YAML object")
        return copy.deepcopy(request.data)

    @staticmethod
    def _manager(request: rendering.Request) -> str:
        manager = request.params.get("fieldManager")
        if manager:
            return manager
        agent = request.headers.get("User-Agent", "unknown")
        return agent.split("/", 1)[0]

    def _respond(self, request: rendering.Request, document: Obj) -> aiohttp.web.Response:
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            from .tables import as_table

            return aiohttp.web.json_response(as_table(document, self._current_rv))
        return aiohttp.web.json_response(document)

    # --- the store ---------------------------------------------------------------

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> tuple[Any, ...]:
        return (rt.resource, namespace if rt.namespaced else None, name)

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """A deep copy of the live object, or None."""
        key = self._key(rt, namespace, name)
        if key not in self.objects:
            return None
        stored = self.objects[key]
        return None if stored.deleted else copy.deepcopy(stored.last.raw)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        """The live object, or 404."""
        found = self.find(rt, namespace, name)
        if found is None:
            raise not_found(rt, name)
        return found

    def items(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        """Every live object of a type (in ``namespace`` when given)."""
        result = []
        for (resource, ns, _name), stored in self.objects.items():
            wanted = namespace is None or ns == namespace
            if resource == rt.resource and not stored.deleted and wanted:
                result.append(copy.deepcopy(stored.last.raw))
        return result

    def _next_rv(self) -> int:
        self._current_rv = next(self._rv)
        return self._current_rv

    def _record(self, rt: ResourceType, event: str, obj: Obj) -> None:
        namespace = obj.get("metadata", {}).get("namespace")
        self._journal.append((self._current_rv, rt, namespace, event, copy.deepcopy(obj)))
        if self._changed is not None:
            self.spawn(self.notify())

    def store(self, rt: ResourceType, namespace: str | None, name: str, obj: Obj) -> Obj:
        """Store a new version of an existing object and journal MODIFIED.

        An object being deleted whose last finalizer went away is removed
        instead (a pod only once its kubelet has finished with it).
        """
        meta = obj["metadata"]
        held = meta.get("finalizers") or (
            rt.plural == "namespaces" and (obj.get("spec") or {}).get("finalizers")
        )
        finished = rt.plural != "pods" or meta.get("uid") in self._finished_pods
        if meta.get("deletionTimestamp") and not held and finished:
            self.remove(rt, obj)
            return obj
        meta["resourceVersion"] = str(self._next_rv())
        obj.setdefault("kind", rt.kind)
        obj.setdefault("apiVersion", rt.api_version)
        self.objects[self._key(rt, namespace, name)].create(copy.deepcopy(obj))
        self._record(rt, "MODIFIED", obj)
        self._after_change(rt, obj, "MODIFIED")
        return obj

    def _after_change(self, rt: ResourceType, obj: Obj, event: str) -> None:
        if self._kick is not None:
            self._kick.set()
        if self.kubelet is None:
            return
        if rt.plural == "pods":
            self.kubelet.pod_changed(event, copy.deepcopy(obj))
        elif rt.plural == "persistentvolumeclaims" and event == "DELETED":
            self.kubelet.claim_removed(copy.deepcopy(obj))

    def drop_finalizers(self, rt: ResourceType, obj: Obj, finalizers: set[str]) -> None:
        """Remove ``finalizers`` from ``obj`` (a controller done with it); may remove it."""
        meta = obj["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f not in finalizers]
        if not meta["finalizers"]:
            del meta["finalizers"]
        self.store(rt, meta.get("namespace"), meta["name"], obj)

    def finish_pod(self, namespace: str, name: str, uid: str) -> None:
        """The kubelet stopped every container of a deleted pod: the pod object goes.

        (What the kubelet's final ``DELETE`` with ``gracePeriodSeconds=0`` and a
        uid precondition does.) Its finalizers, if any, still hold it.
        """
        pod = self.find(_PODS, namespace, name)
        if pod is None or pod["metadata"]["uid"] != uid:
            return
        self._finished_pods.add(uid)
        if not pod["metadata"].get("finalizers"):
            self.remove(_PODS, pod)

    # --- validation and defaults -------------------------------------------------

    def _validate(self, rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        causes: list[tuple[str, str]] = []
        if not name:
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        elif not _NAME.match(name) or len(name) > 253:
            causes.append(
                (
                    "metadata.name",
                    f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                    "alphanumeric characters, '-' or '.'",
                )
            )
        for key, value in (meta.get("labels") or {}).items():
            if not isinstance(value, str) or not _LABEL_VALUE.match(value) or len(value) > 63:
                causes.append((f"metadata.labels.{key}", f'"{value}": a valid label value'))
        if rt.plural == "statefulsets":
            causes.extend(self._statefulset_problems(obj, old))
        if causes:
            raise invalid(rt, name, causes)

    @staticmethod
    def _statefulset_problems(obj: Obj, old: Obj | None) -> list[tuple[str, str]]:
        spec = obj.get("spec") or {}
        causes: list[tuple[str, str]] = []
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 0:
            causes.append(("spec.replicas", f"{replicas}: must be greater than or equal to 0"))
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector or not selector.items() <= labels.items():
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"{labels}: `selector` does not match template `labels`",
                )
            )
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        if not containers:
            causes.append(("spec.template.spec.containers", "Required value"))
        for index, container in enumerate(containers):
            if not container.get("image"):
                causes.append((f"spec.template.spec.containers[{index}].image", "Required value"))
        if old is not None:
            old_spec = old.get("spec") or {}
            for field in _IMMUTABLE_STS:
                if field in old_spec and spec.get(field) != old_spec.get(field):
                    causes.append(
                        (
                            "spec",
                            "Forbidden: updates to statefulset spec for fields other than "
                            "'replicas', 'ordinals', 'template', 'updateStrategy', "
                            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                            "are forbidden",
                        )
                    )
                    break
        return causes

    def _defaults(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        spec = obj.setdefault("spec", {}) if rt.plural not in _NO_SPEC else None
        if rt.plural == "secrets":
            obj.setdefault("type", "Opaque")
            data = obj.setdefault("data", {})
            for key, value in (obj.pop("stringData", None) or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        elif rt.plural == "services" and spec is not None:
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            for port in spec.get("ports", []):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            if "clusterIP" not in spec:
                spec["clusterIP"] = (old or {}).get("spec", {}).get(
                    "clusterIP"
                ) or f"10.96.0.{next(self._ips)}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        elif rt.plural == "statefulsets" and spec is not None:
            spec.setdefault("replicas", 1)
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            obj.setdefault("status", (old or {}).get("status") or {"replicas": 0})
        elif rt.plural == "namespaces":
            obj["status"] = (old or {}).get("status") or {"phase": "Active"}
            kept = ((old or {}).get("spec") or {}).get("finalizers", ["kubernetes"])
            obj.setdefault("spec", {}).setdefault("finalizers", list(kept))
            (obj.setdefault("metadata", {}).setdefault("labels", {}))[
                "kubernetes.io/metadata.name"
            ] = obj["metadata"]["name"]
        elif rt.plural == "persistentvolumeclaims" and spec is not None:
            spec.setdefault("accessModes", ["ReadWriteOnce"])
            spec.setdefault("volumeMode", "Filesystem")
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            bound = {"phase": "Bound", "accessModes": spec["accessModes"]}
            obj.setdefault(
                "status", (old or {}).get("status") or {**bound, "capacity": {"storage": size}}
            )
            if old is None:  # the PVC-protection admission plugin
                finalizers = obj["metadata"].setdefault("finalizers", [])
                if PVC_PROTECTION not in finalizers:
                    finalizers.append(PVC_PROTECTION)
        elif rt.plural == "pods" and spec is not None:
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("enableServiceLinks", True)
            obj.setdefault("status", (old or {}).get("status") or {"phase": "Pending"})

    # --- create / replace / patch / delete ---------------------------------------

    def _check_namespace(self, rt: ResourceType, namespace: str | None, obj: Obj) -> None:
        meta = obj.setdefault("metadata", {})
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        given = meta.get("namespace")
        if given and namespace and given != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        meta["namespace"] = namespace or given or "default"
        if rt.plural != "namespaces" and namespace and rt.plural != "events":
            found = self.find(TYPES[0], None, meta["namespace"])
            if found is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{meta["namespace"]}" not found',
                    {"name": meta["namespace"], "kind": "namespaces"},
                )
            if "deletionTimestamp" in found["metadata"] and "uid" not in meta:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{rt.qualified} "{meta.get("name", "")}" is forbidden: unable to create new '
                    f"content in namespace {meta['namespace']} because it is being terminated",
                )

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Obj,
        manager: str,
        operation: str = "Update",
    ) -> Obj:
        """POST: a new object with uid, resourceVersion, creationTimestamp and generation."""
        self._check_namespace(rt, namespace, body)
        meta = body["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        name = meta.get("name", "")
        self._validate(rt, body)
        if self.find(rt, meta.get("namespace"), name) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{rt.qualified} "{name}" already exists',
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        body["kind"], body["apiVersion"] = rt.kind, rt.api_version
        meta.update(
            uid=str(uuid.uuid4()),
            creationTimestamp=rfc3339(),
            generation=1,
            resourceVersion=str(self._next_rv()),
        )
        self._defaults(rt, body, None)
        key = self._key(rt, meta.get("namespace"), name)
        ownership = self._ownership[key] = fields.Ownership()
        ownership.created((manager, operation), body)
        self._owner_times[key] = {(manager, operation): rfc3339()}
        meta["managedFields"] = ownership.managed_fields(rt.api_version, self._owner_times[key])
        if key in self.objects:
            self.objects[key].create(copy.deepcopy(body))
        else:
            self.objects[key] = copy.deepcopy(body)
        self._record(rt, "ADDED", body)
        self._after_change(rt, body, "ADDED")
        return body

    def _update(
        self,
        rt: ResourceType,
        namespace: str | None,
        old: Obj,
        new: Obj,
        manager: str,
        operation: str = "Update",
        applied: tuple[Obj, bool] | None = None,
    ) -> Obj:
        """Store ``new`` over ``old``, keeping what the server owns.

        Field ownership follows (:mod:`.fields`): an update takes over what it
        changed; an apply (``applied`` = its configuration and ``force``) is
        refused with 409 when it would change another manager's fields.
        """
        name = old["metadata"]["name"]
        new.setdefault("metadata", {})
        self._check_namespace(rt, namespace, new)
        new["metadata"]["name"] = name
        for field in _SERVER_OWNED:
            if field in old["metadata"]:
                new["metadata"][field] = old["metadata"][field]
        if rt.has_status and "status" in old:
            new["status"] = old["status"]
        new["kind"], new["apiVersion"] = rt.kind, rt.api_version
        self._validate(rt, new, old)
        self._defaults(rt, new, old)
        generation = old["metadata"].get("generation", 1)
        if _spec_part(new) != _spec_part(old):
            generation += 1
        new["metadata"]["generation"] = generation
        key = self._key(rt, namespace, name)
        ownership = self._ownership.setdefault(key, fields.Ownership())
        before = ownership.snapshot()
        owner = (manager, operation)
        if applied is not None:
            config, force = applied
            try:
                ownership.applied(owner, config, old, new, force, rt.api_version)
            except fields.Conflict as exc:
                raise ApiError(
                    409, "Conflict", str(exc), {"name": name, "group": rt.group,
                                                "kind": rt.plural, "causes": exc.causes()},
                ) from None  # fmt: skip
        else:
            ownership.updated(owner, old, new)
        same = _without_bookkeeping(new) == _without_bookkeeping(old)
        if same and ownership.snapshot() == before:
            return old  # a no-op write changes nothing, not even the resourceVersion
        self._owner_times.setdefault(key, {})[owner] = rfc3339()
        new["metadata"]["managedFields"] = ownership.managed_fields(
            rt.api_version, self._owner_times[key]
        )
        return self.store(rt, namespace, name, new)

    def replace(
        self, rt: ResourceType, namespace: str | None, name: str, body: Obj, manager: str
    ) -> Obj:
        """PUT: the whole object, with an optimistic-concurrency check on resourceVersion."""
        old = self.get(rt, namespace, name)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        body_meta = body.get("metadata") or {}
        if body_meta.get("name") and body_meta["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
        return self._update(rt, namespace, old, body, manager)

    def patch(
        self, rt: ResourceType, namespace: str | None, name: str, request: rendering.Request
    ) -> tuple[Obj, bool]:
        """PATCH in any of the four content types; apply may create."""
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        patch_body = request.data
        if content_type.startswith("application/apply-patch"):
            manager = request.params.get("fieldManager")
            if not manager:
                raise ApiError(
                    422,
                    "Invalid",
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch",
                )
            if not isinstance(patch_body, dict):
                raise ApiError(400, "BadRequest", "the apply configuration is not an object")
            force = request.params.get("force") in ("true", "1")
            return self.apply(rt, namespace, name, patch_body, manager, force)
        old = self.get(rt, namespace, name)
        manager = self._manager(request)
        if content_type == "application/json-patch+json":
            if not isinstance(patch_body, list):
                raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
            try:
                new = patching.json_patch(old, patch_body)
            except Exception as exc:
                raise ApiError(422, "Invalid", f"the JSON patch failed: {exc}") from None
        elif content_type == "application/merge-patch+json":
            new = patching.merge_patch(old, self._body(request))
        elif content_type == "application/strategic-merge-patch+json":
            new = patching.strategic_merge(old, self._body(request))
        else:
            raise ApiError(
                415, "UnsupportedMediaType", f"the body of the request was in an unknown format: "
                f"{content_type or 'none'}"
            )  # fmt: skip
        return self._update(rt, namespace, old, new, manager), False

    def apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        config: Obj,
        manager: str,
        force: bool = False,
    ) -> tuple[Obj, bool]:
        """Server-side apply: create, or merge over the live object (see :mod:`.patching`)."""
        config = copy.deepcopy(config)
        meta = config.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
        meta["name"] = name
        if config.get("kind") not in (None, rt.kind):
            raise ApiError(400, "BadRequest", f"kind {config.get('kind')} does not match {rt.kind}")
        key = (*self._key(rt, namespace, name), manager)
        live = self.find(rt, namespace, name)
        if live is None:
            created = self.create(rt, namespace, copy.deepcopy(config), manager, "Apply")
            self._applied[key] = config
            return created, True
        merged = patching.server_side_apply(live, self._applied.get(key), config)
        result = self._update(rt, namespace, live, merged, manager, "Apply", (config, force))
        self._applied[key] = config
        return result, False

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: Obj | None = None,
    ) -> Obj:
        """DELETE, as the API server's registry does it.

        - A pod bound to a node is deleted gracefully: it gets a
          ``deletionTimestamp`` (now + the grace period) and stays until its
          kubelet has stopped it (:meth:`finish_pod`).
        - An object with finalizers gets a ``deletionTimestamp`` and stays until
          they are gone (a namespace's ``spec.finalizers`` too).
        - ``propagationPolicy``: ``Background`` (the default) leaves the
          dependents to the garbage collector, ``Foreground`` and ``Orphan``
          add their finalizer to the owner.
        - Anything else goes at once.

        A second DELETE of an object already being deleted changes nothing.
        """
        options = options or {}
        obj = self.get(rt, namespace, name)
        meta = obj["metadata"]
        gone = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta["uid"]},
        }
        uid = ((options.get("preconditions") or {}).get("uid")) or None
        if uid and uid != meta["uid"]:
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{meta['uid']}",
            )
        if meta.get("deletionTimestamp"):
            if rt.plural == "pods" and options.get("gracePeriodSeconds") == 0:
                self._finished_pods.add(meta["uid"])
                if not meta.get("finalizers"):
                    self.remove(rt, obj)
                    return gone
            return obj
        policy = options.get("propagationPolicy") or (
            "Orphan" if options.get("orphanDependents") else "Background"
        )
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        elif policy == "Orphan" and ORPHAN not in finalizers:
            finalizers.append(ORPHAN)
        grace = None
        if rt.plural == "pods":
            spec, status = obj.get("spec") or {}, obj.get("status") or {}
            grace = options.get("gracePeriodSeconds")
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            finished = status.get("phase") in ("Succeeded", "Failed")
            if not spec.get("nodeName") or finished or grace <= 0:
                grace = None
                self._finished_pods.add(meta["uid"])
        held = rt.plural == "namespaces" and (obj.get("spec") or {}).get("finalizers")
        if grace is None and not finalizers and not held:
            self.remove(rt, obj)
            return gone
        moment = now() + dt.timedelta(seconds=grace or 0)
        meta["deletionTimestamp"] = rfc3339(moment)
        if grace is not None:
            meta["deletionGracePeriodSeconds"] = grace
        else:
            meta["deletionGracePeriodSeconds"] = 0
        if finalizers:
            meta["finalizers"] = finalizers
        if rt.plural == "namespaces":
            obj["status"] = {"phase": "Terminating"}
        return self.store(rt, namespace if rt.namespaced else None, name, obj)

    def remove(self, rt: ResourceType, obj: Obj) -> None:
        """The object is gone: journal DELETED."""
        meta = obj["metadata"]
        key = self._key(rt, meta.get("namespace"), meta["name"])
        if key not in self.objects or self.objects[key].deleted:
            return
        self._next_rv()
        meta["resourceVersion"] = str(self._current_rv)
        self.objects[key].delete()
        self._record(rt, "DELETED", obj)
        self._finished_pods.discard(meta.get("uid", ""))
        self._ownership.pop(key, None)
        self._owner_times.pop(key, None)
        self._after_change(rt, obj, "DELETED")

    def delete_collection(self, rt: ResourceType, namespace: str | None, query: Any) -> Obj:
        """DELETE on a list: every object the selectors match (each as :meth:`delete`)."""
        listing = self.list_objects(rt, namespace, query)
        for item in listing["items"]:
            with contextlib.suppress(ApiError):
                self.delete(rt, item["metadata"].get("namespace"), item["metadata"]["name"])
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    # --- list and watch ----------------------------------------------------------

    def _matcher(self, query: Any) -> Any:
        try:
            labels = selectors.label_selector(query.get("labelSelector"))
            fields = selectors.field_selector(query.get("fieldSelector"))
        except selectors.SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        return lambda obj: labels(obj.get("metadata", {}).get("labels") or {}) and fields(obj)

    def list_objects(self, rt: ResourceType, namespace: str | None, query: Any) -> Obj:
        """A ``<Kind>List`` with kind, apiVersion and the current resourceVersion."""
        matches = self._matcher(query)
        items = []
        for obj in self.items(rt, namespace):
            if matches(obj):
                obj.pop("kind", None)
                obj.pop("apiVersion", None)
                items.append(obj)
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self._current_rv)},
            "items": items,
        }

    async def _watch(
        self, request: rendering.Request, rt: ResourceType, namespace: str | None
    ) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None and self._changed is not None
        query = raw.query
        matches = self._matcher(query)
        since_text = query.get("resourceVersion") or "0"
        timeout = float(query.get("timeoutSeconds") or 1800)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)

        async def send(event: str, obj: Obj) -> None:
            line = json.dumps({"type": event, "object": obj}) + "\n"
            await response.write(line.encode())

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        since = int(since_text) if since_text.isdigit() else 0
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        last_bookmark = loop.time()

        async def bookmark() -> None:
            # Only the version matters: the client resumes from it after a reconnect.
            meta = {"resourceVersion": str(max(since, self._current_rv))}
            await send(
                "BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
            )

        try:
            if since == 0:
                for obj in self.items(rt, namespace):
                    if matches(obj):
                        await send("ADDED", obj)
                since = self._current_rv
            elif since < self._compacted_rv:
                await send(
                    "ERROR",
                    ApiError(
                        410, "Expired", f"too old resource version: {since} ({self._compacted_rv})"
                    ).status(),
                )
                return response
            while True:
                for rv, etype_rt, ns, event, obj in list(self._journal):
                    if rv <= since or etype_rt != rt:
                        continue
                    since = rv
                    if namespace is not None and ns != namespace:
                        continue
                    if matches(obj):
                        await send(event, obj)
                remaining = deadline - loop.time()
                if raw.transport is None or raw.transport.is_closing():
                    break
                if remaining <= 0:
                    if bookmarks:  # as the API server does just before a watch times out
                        await bookmark()
                    break
                if bookmarks and loop.time() - last_bookmark >= self.bookmark_seconds:
                    await bookmark()
                    last_bookmark = loop.time()
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def compact(self, upto: int | None = None) -> None:
        """Forget the journal up to ``upto`` (all of it by default), as etcd compaction does:
        a watch from an older version gets 410 Gone."""
        self._compacted_rv = self._current_rv if upto is None else upto
        self._journal[:] = [entry for entry in self._journal if entry[0] > self._compacted_rv]

    # --- scale -------------------------------------------------------------------

    def _scale_of(self, sts: Obj) -> Obj:
        meta = sts["metadata"]
        selector = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": sts["spec"].get("replicas", 1)},
            "status": {
                "replicas": (sts.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
            },
        }

    def get_scale(self, namespace: str | None, name: str) -> Obj:
        """GET statefulsets/scale."""
        return self._scale_of(self.get(_STS, namespace, name))

    def update_scale(self, namespace: str | None, name: str, request: rendering.Request) -> Obj:
        """PUT or PATCH statefulsets/scale: only ``spec.replicas`` changes."""
        sts = self.get(_STS, namespace, name)
        current = self._scale_of(sts)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if request.method == enums.method.PUT:
            body = self._body(request)
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != sts["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on statefulsets.apps "{name}": '
                    "the object has been modified",
                )
            new = body
        elif content_type == "application/json-patch+json":
            new = patching.json_patch(current, request.data)
        else:
            new = patching.merge_patch(current, self._body(request))
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(_STS, name, [("spec.replicas", f"{replicas}: must be >= 0")])
        changed = copy.deepcopy(sts)
        changed["spec"]["replicas"] = replicas
        result = self._update(_STS, namespace, sts, changed, self._manager(request))
        return self._scale_of(result)

    # --- events -------------------------------------------------------------------

    def add_event(
        self,
        involved: Obj,
        reason: str,
        message: str,
        event_type: str = "Normal",
        component: str = "stand-in-controller",
    ) -> None:
        """A core/v1 Event about ``involved``, as controllers and the kubelet write them."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        found = self.find(TYPES[0], None, namespace)
        if found is None or "deletionTimestamp" in found["metadata"]:
            return
        stamp = rfc3339()
        body = {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "kind": involved.get("kind"),
                "namespace": namespace,
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": involved.get("apiVersion"),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        self.create(_EVENTS, namespace, body, component)

    # --- test controls -------------------------------------------------------------

    def fail_next(self, method: str, plural: str, status: int, count: int) -> None:
        """The next ``count`` ``method`` requests on ``plural`` fail with ``status``.

        (kmock's ``view[:n]`` counts from the first request ever seen, so it
        cannot express "the next n requests" once traffic has started.)
        """
        self.failures[(method.upper(), plural)] = [status, count]


_NO_SPEC = {"secrets", "configmaps", "events", "namespaces"}
_STS = find_type("apps", "v1", "statefulsets")  # type: ignore[assignment]
_PODS = find_type("", "v1", "pods")  # type: ignore[assignment]
_PVCS = find_type("", "v1", "persistentvolumeclaims")  # type: ignore[assignment]
_EVENTS = find_type("", "v1", "events")  # type: ignore[assignment]
assert _STS and _PODS and _PVCS and _EVENTS
