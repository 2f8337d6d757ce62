"""A loopback fake of the Hugging Face Hub HTTP API, for tests.

Enough of the Hub (and of the Inference Endpoints API) for the *real* ``huggingface_hub`` client and
``datasets.load_dataset`` to work: repo create/info, preupload, the legacy git-LFS batch/upload/verify flow,
ndjson commits, tree/paths-info/refs/commits, ``resolve`` downloads with ``Range``, Space variables, whoami,
and in-memory Inference Endpoints. Every request is recorded in ``HubServer.requests``.

    with HubServer(tmp_path / "hub") as hub:     # hub.url == "http://127.0.0.1:<port>"
        env = client_env(hub.url, tmp_path / "home", hub.token)
        subprocess.run([sys.executable, "-c", code], env=env, check=True)

Pointing the clients at it:

* Hub (``HfApi``, ``hf_hub_download``, ``HfFileSystem``) and ``datasets`` read ``HF_ENDPOINT`` at import
  time, so run them in a subprocess with :func:`client_env` (it also sets ``HF_HUB_DISABLE_XET=1`` so uploads
  use the LFS protocol served here, and drops ``HF_HUB_OFFLINE``). ``datasets`` also queries
  ``http://datasets-server.127.0.0.1:<port>``; that name does not resolve, which it treats as "no export".
* Inference Endpoints: ``huggingface_hub.constants.INFERENCE_ENDPOINTS_ENDPOINT`` is hard-coded (not derived
  from ``HF_ENDPOINT``, no env var), but ``HfApi`` reads it on every call. In the client process set it to
  ``inference_endpoints_url(url)``, i.e. call :func:`patch_inference_endpoints`; :func:`client_env` exports
  that URL as ``HUB_SERVER_INFERENCE_ENDPOINTS_URL`` (only for such a patch; no client reads it).

Standalone: ``python -m tests.support.hub_server --root DIR --port P`` serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

IE_PREFIX = "/inference-endpoints/v2"  # stands in for https://api.endpoints.huggingface.cloud/v2
TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# The real Hub decides LFS from .gitattributes, binary content and size; mirror that roughly.
LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".safetensors", ".pt", ".pth", ".ckpt", ".h5", ".onnx",
                ".npy", ".npz", ".zip", ".gz", ".tar", ".pkl", ".msgpack", ".gguf")
LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # Hub date format


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def inference_endpoints_url(url: str) -> str:
    return url.rstrip("/") + IE_PREFIX


def patch_inference_endpoints(url: str) -> None:
    """Point this process's huggingface_hub Inference Endpoints calls at the server at ``url``."""
    import huggingface_hub.constants

    huggingface_hub.constants.INFERENCE_ENDPOINTS_ENDPOINT = inference_endpoints_url(url)


def client_env(url: str, home: Path, token: str | None) -> dict[str, str]:
    """os.environ plus what a client subprocess needs to talk to the server at ``url``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN",
                        "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE")}
    env.update(HF_ENDPOINT=url, HF_HOME=str(home), HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", HUB_SERVER_INFERENCE_ENDPOINTS_URL=inference_endpoints_url(url))
    if token:
        env["HF_TOKEN"] = token
    return env


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections

    def log_message(self, *args):  # keep test output quiet
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # streamed LFS PUTs
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        hub: HubServer = self.server.hub  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        body = self._read_body()
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        authorized = self.headers.get("Authorization") == f"Bearer {hub.token}"
        rec = {"method": self.command, "path": split.path, "query": query, "authorized": authorized,
               "headers": {k: v for k, v in self.headers.items() if k.lower() != "authorization"}}
        ctype = self.headers.get("Content-Type", "")
        try:
            if "ndjson" in ctype:
                rec["ndjson"] = [json.loads(line) for line in body.splitlines() if line.strip()]
            elif "json" in ctype and body:
                rec["json"] = json.loads(body)
            elif "x-www-form-urlencoded" in ctype:
                rec["form"] = parse_qs(body.decode())
        except ValueError:
            pass
        hub.requests.append(rec)
        try:
            status, headers, payload = hub._route(self.command, split.path, query, body, rec, authorized,
                                                  self.headers.get("Range"))
        except Exception as e:  # a HubError is an API answer; anything else is a bug in this fake -> 500
            err = e if isinstance(e, HubError) else HubError(500, f"{type(e).__name__}: {e}")
            status, payload = err.status, json.dumps({"error": str(err)}).encode()
            # header values must be latin-1: escape non-ASCII (e.g. file names) in the message
            headers = {"Content-Type": "application/json", **err.headers,
                       "X-Error-Message": str(err).encode("ascii", "backslashreplace").decode()}
            if err.code:
                headers["X-Error-Code"] = err.code
        rec["status"] = status
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


class HubServer:
    def __init__(self, root: Path, token: str = "hf_test_token", port: int = 0, endpoint_url: str | None = None):
        self.root, self.token, self.port = Path(root), token, port
        self.endpoint_url = endpoint_url  # URL given to new inference endpoints (default: {url}/endpoints/{name})
        self.url: str | None = None
        self.requests: list[dict] = []
        self.endpoints: dict[tuple[str, str], dict] = {}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        # Repo metadata (refs, commits as full file manifests, settings) persists as one JSON per repo.
        self.repos: dict[tuple[str, str], dict] = {}
        for meta in (self.root / "repos").glob("*/*/*.json"):
            self.repos[(meta.parts[-3], f"{meta.parts[-2]}/{meta.stem}")] = json.loads(meta.read_text())

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> str:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "HubServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- storage ---------------------------------------------------------------------------------
    def _save(self, rtype: str, repo_id: str) -> None:
        path = self.root / "repos" / rtype / f"{repo_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.repos[(rtype, repo_id)]))

    def _put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / sha).write_bytes(data)
        return sha

    def _blob(self, sha: str) -> Path:
        return self.root / "blobs" / sha

    def _repo(self, rtype: str, repo_id: str, authorized: bool) -> dict:
        repo = self.repos.get((rtype, repo_id))
        if repo is None or (repo["private"] and not authorized):  # the Hub hides private repos the same way
            raise HubError(404 if authorized else 401, "Repository not found", "RepoNotFound")
        return repo

    def _rev(self, repo: dict, rev: str) -> tuple[str, dict]:
        sha = repo["refs"].get(rev) or (rev if rev in repo["commits"] else None)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return sha, repo["commits"][sha]

    def _commit(self, repo: dict, branch: str, files: dict, title: str, message: str = "") -> str:
        sha = hashlib.sha1(uuid.uuid4().bytes).hexdigest()  # fresh 40-hex id for every commit
        repo["commits"][sha] = {"parent": repo["refs"].get(branch), "title": title, "message": message,
                                "date": _now(), "files": files}
        repo["refs"][branch] = sha
        return sha

    def _file_entry(self, sha: str, size: int, data: bytes | None = None) -> dict:
        """Manifest entry; ``data`` given = regular git file, else an LFS file (git stores a pointer)."""
        if data is not None:
            return {"sha256": sha, "size": size, "oid": _git_oid(data), "lfs": None}
        pointer = _lfs_pointer(sha, size)
        return {"sha256": sha, "size": size, "oid": _git_oid(pointer),
                "lfs": {"oid": sha, "size": size, "pointerSize": len(pointer)}}

    # -- routing ---------------------------------------------------------------------------------
    def _route(self, method, path, query, body, rec, authorized, range_header):
        segs = path.strip("/").split("/")  # still percent-encoded: revisions arrive as e.g. refs%2Fpr%2F1

        def need_auth():
            if not authorized:
                raise HubError(401, "Invalid credentials in Authorization header")

        with self._lock:
            if path == "/api/whoami-v2":
                need_auth()
                return 200, {}, {"type": "user", "id": "tester-id", "name": "tester", "fullname": "Tester",
                                 "orgs": [{"type": "org", "name": "globmed-org", "roleInOrg": "admin"}],
                                 "auth": {"type": "access_token",
                                          "accessToken": {"displayName": "test", "role": "write"}}}
            if path == "/api/validate-yaml":
                return 200, {}, {"errors": [], "warnings": []}
            if path == "/api/repos/create" and method == "POST":
                need_auth()
                return self._create_repo(rec.get("json") or {})
            if path.startswith(IE_PREFIX + "/endpoint/"):
                need_auth()
                # copy: stored endpoints must not alias (and later mutate) the recorded request body
                return self._endpoints(method, segs[3:], json.loads(json.dumps(rec.get("json") or {})))
            if segs[0] == "endpoints" and len(segs) == 3 and segs[2] == "health":  # polled by .wait()
                states = {e["status"]["state"] for (_, n), e in self.endpoints.items() if n == segs[1]}
                return (200, {}, b"ok") if "running" in states else (503, {}, b"not running")
            if segs[0] == "lfs-upload" and method == "PUT":  # pre-signed style URL: no auth, like S3
                if hashlib.sha256(body).hexdigest() != segs[1]:
                    raise HubError(400, "sha256 mismatch")
                self._put_blob(body)
                return 200, {"ETag": f'"{segs[1]}"'}, b""
            if segs[0] == "api" and len(segs) >= 4 and segs[1] in TYPES:
                rtype, repo_id = TYPES[segs[1]], f"{segs[2]}/{segs[3]}"
                return self._api(method, rtype, repo_id, segs[4:], query, rec, authorized, need_auth)
            # Git-side URLs: /{repo_id}/..., /datasets/{repo_id}/..., /spaces/{repo_id}/...
            rtype = TYPES[segs[0]] if segs[0] in ("datasets", "spaces") else "model"
            rest = segs if rtype == "model" else segs[1:]
            if len(rest) >= 2 and rest[1].endswith(".git") and rest[2:5] == ["info", "lfs", "objects"]:
                need_auth()
                repo_id = f"{rest[0]}/{rest[1][:-4]}"
                self._repo(rtype, repo_id, authorized)
                return self._lfs(rest[5] if len(rest) > 5 else "", rtype, repo_id, rec.get("json") or {})
            if len(rest) >= 5 and rest[2] == "resolve" and method in ("GET", "HEAD"):
                repo = self._repo(rtype, f"{rest[0]}/{rest[1]}", authorized)
                sha, commit = self._rev(repo, unquote(rest[3]))
                return self._resolve(sha, commit["files"].get(unquote("/".join(rest[4:]))), range_header)
        raise HubError(404, f"Not found: {method} {path}")

    def _create_repo(self, payload: dict):
        rtype = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or 'tester'}/{payload['name']}"
        url = f"{self.url}/{URL_PREFIX[rtype]}{repo_id}"
        if (rtype, repo_id) in self.repos:  # exist_ok=True reads `url` from the 409 body
            return 409, {}, {"error": "You already created this repo", "url": url}
        repo = {"private": payload.get("visibility", "public") != "public", "sdk": payload.get("sdk"),
                "variables": {v["key"]: {"value": v["value"], "description": v.get("description"),
                                         "updatedAt": _now()} for v in payload.get("variables") or []},
                "createdAt": _now(), "refs": {}, "commits": {}}
        self.repos[(rtype, repo_id)] = repo
        # Like the Hub, a new repo starts with one commit holding .gitattributes.
        attrs = self._file_entry(self._put_blob(GITATTRIBUTES), len(GITATTRIBUTES), GITATTRIBUTES)
        self._commit(repo, "main", {".gitattributes": attrs}, "initial commit")
        self._save(rtype, repo_id)
        return 200, {}, {"url": url, "name": repo_id, "id": uuid.uuid4().hex[:24]}

    def _api(self, method, rtype, repo_id, rest, query, rec, authorized, need_auth):
        repo = self._repo(rtype, repo_id, authorized)
        action = rest[0] if rest else "revision"
        rev = unquote(rest[1]) if len(rest) > 1 else "main"
        if action == "revision" and method == "GET":
            return 200, {}, self._info(rtype, repo_id, repo, rev, bool(query.get("blobs")))
        if action == "tree" and method == "GET":
            sha, commit = self._rev(repo, rev)
            expand = str(query.get("expand", "")).lower() in ("1", "true")
            recursive = str(query.get("recursive", "")).lower() in ("1", "true")
            return 200, {}, self._tree(commit, sha, unquote("/".join(rest[2:])), recursive, expand)
        if action == "paths-info" and method == "POST":
            sha, commit = self._rev(repo, rev)
            form = rec.get("form") or {}  # the client posts form data: paths=a&paths=b&expand=false
            expand = form.get("expand", ["false"])[-1].lower() == "true"
            wanted = {p.strip("/") for p in form.get("paths", [])}
            return 200, {}, [e for e in self._tree(commit, sha, "", True, expand) if e["path"] in wanted]
        if action == "refs" and method == "GET":
            return 200, {}, {"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": s}
                                          for b, s in repo["refs"].items()],
                             "converts": [], "tags": [], "pullRequests": []}
        if action == "commits" and method == "GET":
            sha, out = self._rev(repo, rev)[0], []
            while sha:
                c = repo["commits"][sha]
                out.append({"id": sha, "title": c["title"], "message": c["message"], "date": c["date"],
                            "authors": [{"user": "tester"}]})
                sha = c["parent"]
            return 200, {}, out
        if action == "variables" and rtype == "space":
            if method != "GET":
                need_auth()
                payload = rec.get("json") or {}
                if method == "POST":
                    repo["variables"][payload["key"]] = {"value": payload["value"], "updatedAt": _now(),
                                                         "description": payload.get("description")}
                elif method == "DELETE":
                    repo["variables"].pop(payload.get("key"), None)
                self._save(rtype, repo_id)
            return 200, {}, repo["variables"]
        need_auth()
        if action == "preupload" and method == "POST":
            files = self._rev(repo, rev)[1]["files"]
            out = []
            for f in (rec.get("json") or {}).get("files", []):
                lfs = (f["size"] >= LFS_MIN_SIZE or f["path"].endswith(LFS_SUFFIXES)
                       or b"\0" in base64.b64decode(f.get("sample", "")))
                old, oid = files.get(f["path"]), None
                if old is not None and bool(old["lfs"]) == lfs:
                    # The client skips unchanged files by comparing this oid: sha256 for LFS, git sha1 otherwise.
                    oid = old["sha256"] if lfs else old["oid"]
                out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular",
                            "shouldIgnore": False, "oid": oid})
            return 200, {}, {"files": out, "commitOid": self._rev(repo, rev)[0]}
        if action == "commit" and method == "POST":
            if query.get("create_pr"):
                raise HubError(501, "create_pr is not supported by the fake Hub")
            return self._apply_commit(rtype, repo_id, repo, rev, rec.get("ndjson") or [])
        raise HubError(404, f"Not found: {method} /api/{rtype}s/{repo_id}/{'/'.join(rest)}")

    def _info(self, rtype, repo_id, repo, rev, blobs):
        sha, commit = self._rev(repo, rev)
        siblings = []
        for path, f in sorted(commit["files"].items()):
            sib = {"rfilename": path}
            if blobs:  # files_metadata=True
                sib.update(size=f["size"], blobId=f["oid"])
                if f["lfs"]:
                    sib["lfs"] = {"sha256": f["sha256"], "size": f["size"], "pointerSize": f["lfs"]["pointerSize"]}
            siblings.append(sib)
        info = {"id": repo_id, "author": repo_id.split("/")[0], "sha": sha, "private": repo["private"],
                "gated": False, "disabled": False, "tags": [], "createdAt": repo["createdAt"], "likes": 0,
                "lastModified": commit["date"], "siblings": siblings}
        return info | {"sdk": repo["sdk"]} if rtype == "space" else info

    def _tree(self, commit, sha, prefix, recursive, expand):
        prefix = prefix.strip("/")
        base = prefix + "/" if prefix else ""
        files = {p: f for p, f in commit["files"].items() if p.startswith(base)}
        if prefix and not files:
            raise HubError(404, f"{prefix} does not exist on this revision", "EntryNotFound")
        last = {"id": sha, "title": commit["title"], "date": commit["date"]}  # good enough for lastCommit
        dirs, out = set(), []
        for path, f in sorted(files.items()):
            parts = path[len(base):].split("/")
            dirs.update(base + "/".join(parts[:i]) for i in range(1, len(parts) if recursive else min(2, len(parts))))
            if recursive or len(parts) == 1:
                out.append({"type": "file", "path": path, "size": f["size"], "oid": f["oid"]}
                           | ({"lfs": f["lfs"]} if f["lfs"] else {}))
        folders = [{"type": "directory", "path": d, "oid": hashlib.sha1(f"{sha}:{d}".encode()).hexdigest()}
                   for d in sorted(dirs)]
        return [e | ({"lastCommit": last} if expand else {}) for e in folders + out]

    def _lfs(self, op, rtype, repo_id, payload):
        if op == "verify":
            if not self._blob(payload.get("oid", "")).exists():
                raise HubError(404, "Object not found")
            return 200, {}, {"message": "ok"}
        if op != "batch" or payload.get("operation") != "upload":
            raise HubError(400, "Only LFS upload batches are supported")
        objects = []
        for obj in payload.get("objects", []):
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if not self._blob(obj["oid"]).exists():  # no "actions" = already stored, the client skips it
                entry["actions"] = {
                    "upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}", "header": {}},
                    "verify": {"href": f"{self.url}/{URL_PREFIX[rtype]}{repo_id}.git/info/lfs/objects/verify",
                               "header": {}}}
            objects.append(entry)
        return 200, {"Content-Type": "application/vnd.git-lfs+json"}, {"transfer": "basic", "objects": objects}

    def _apply_commit(self, rtype, repo_id, repo, rev, lines):
        if rev not in repo["refs"]:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "First line of the commit payload must be the header")
        header = lines[0]["value"]
        if header.get("parentCommit") and header["parentCommit"] != repo["refs"][rev]:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(repo["commits"][repo["refs"][rev]]["files"])
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value["path"].strip("/")
            if key == "file":
                data = base64.b64decode(value["content"])
                files[path] = self._file_entry(self._put_blob(data), len(data), data)
            elif key == "lfsFile":  # size is absent for copies: take it from the stored blob
                if not self._blob(value["oid"]).exists():
                    raise HubError(400, f"LFS object {value['oid']} was never uploaded")
                files[path] = self._file_entry(value["oid"], self._blob(value["oid"]).stat().st_size)
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
            elif key == "deletedFolder":
                files = {p: f for p, f in files.items() if not p.startswith(path + "/")}
            else:
                raise HubError(400, f"Unknown commit operation {key!r}")
        sha = self._commit(repo, rev, files, header.get("summary", ""), header.get("description", ""))
        self._save(rtype, repo_id)
        return 200, {}, {"success": True, "commitOid": sha, "commitMessage": header.get("summary", ""),
                         "commitUrl": f"{self.url}/{URL_PREFIX[rtype]}{repo_id}/commit/{sha}",
                         "pullRequestUrl": None}

    def _resolve(self, sha, entry, range_header):
        if entry is None:  # X-Repo-Commit lets the client cache the non-existence
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": sha})
        data, size = self._blob(entry["sha256"]).read_bytes(), entry["size"]
        headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha, "Accept-Ranges": "bytes",
                   "ETag": f'"{entry["sha256"] if entry["lfs"] else entry["oid"]}"'}
        if entry["lfs"]:  # what the Hub sends for LFS files; hf_hub_download prefers these
            headers.update({"X-Linked-Etag": f'"{entry["sha256"]}"', "X-Linked-Size": str(size)})
        if not range_header or not range_header.startswith("bytes="):
            return 200, headers, data
        start_s, _, end_s = range_header[6:].split(",")[0].strip().partition("-")
        start, end = (size - int(end_s), size - 1) if not start_s else (int(start_s), int(end_s or size - 1))
        start, end = max(start, 0), min(end, size - 1)
        if start > end:
            raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return 206, headers, data[start:end + 1]

    # -- inference endpoints ---------------------------------------------------------------------
    def _endpoints(self, method, segs, payload):
        ns = segs[0]
        name, action = (segs[1] if len(segs) > 1 else None), (segs[2] if len(segs) > 2 else None)
        if name is None and method == "GET":
            return 200, {}, {"items": [self._ie_raw(e) for (n, _), e in self.endpoints.items() if n == ns]}
        if name is None and method == "POST":
            if (ns, payload["name"]) in self.endpoints:
                raise HubError(409, f"Endpoint {payload['name']} already exists")
            # model.image is one variant: {"custom": {...}}, {"vLLM": {...}}, {"tgi": {...}}, ...
            image = next(iter((payload.get("model", {}).get("image") or {}).values()), None) or {}
            health = image.get("healthRoute") or image.get("health_route") or "/health"
            ep = {**payload, "accountId": None, "healthRoute": health,
                  "status": {"state": "pending", "createdAt": _now(), "updatedAt": _now(), "message": "",
                             "createdBy": {"id": "tester-id", "name": "tester"}, "readyReplica": 0,
                             "targetReplica": payload["compute"]["scaling"]["minReplica"],
                             "url": self.endpoint_url or f"{self.url}/endpoints/{payload['name']}"},
                  "_next": ["initializing", "running"]}
            ep["model"].setdefault("task", None)
            ep["model"]["revision"] = ep["model"].get("revision") or "main"
            self.endpoints[(ns, payload["name"])] = ep
            return 200, {}, self._ie_raw(ep)
        ep = self.endpoints.get((ns, name))
        if ep is None:
            raise HubError(404, f"Endpoint {ns}/{name} not found")
        transitions = {"pause": ("paused", []), "scale-to-zero": ("scaledToZero", []),
                       "resume": ("initializing", ["running"])}
        if method == "GET" and action is None:
            if ep["_next"]:  # each GET moves one step: pending -> initializing -> running
                self._ie_state(ep, ep["_next"].pop(0), ep["_next"])
        elif method == "PUT" and action is None:
            _merge(ep, payload)
            self._ie_state(ep, "updating", ["running"])
        elif method == "DELETE" and action is None:
            del self.endpoints[(ns, name)]
            return 200, {}, {}
        elif method == "POST" and action in transitions:
            if action == "resume" and ep["status"]["state"] == "running":
                raise HubError(400, "Endpoint is already running")
            self._ie_state(ep, *transitions[action])
        else:
            raise HubError(404, f"Not found: {method} endpoint/{'/'.join(segs)}")
        return 200, {}, self._ie_raw(ep)

    @staticmethod
    def _ie_state(ep, state, next_states):
        ep["status"].update(state=state, updatedAt=_now(), readyReplica=1 if state == "running" else 0)
        ep["_next"] = list(next_states)

    @staticmethod
    def _ie_raw(ep):
        return json.loads(json.dumps({k: v for k, v in ep.items() if not k.startswith("_")}))


WHOLE = {"image", "env", "args", "command"}  # model fields an update replaces whole, as the API does


def _merge(dst: dict, src: dict) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict) and key not in WHOLE:
            _merge(dst[key], value)
        else:
            dst[key] = value


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Hugging Face Hub on 127.0.0.1.")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="hf_test_token")
    args = parser.parse_args()
    server = HubServer(args.root, token=args.token, port=args.port)
    print(f"fake Hub at {server.start()} (token {args.token}); Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
