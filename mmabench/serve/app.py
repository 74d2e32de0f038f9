"""The viewer's Starlette app: `create_app(db_url, media_root, token=None)`.

Pages are rendered on the server from read-only queries (one connection per request, always rolled back);
media come from the media store only, with HTTP range requests (Starlette's FileResponse: 206 + Content-Range).
"""

from __future__ import annotations

import hmac
import mimetypes
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmabench.eval.report import ORDER
from mmabench.serve import clips as clips_q
from mmabench.serve import items as items_q
from mmabench.serve import runs as runs_q
from mmabench.serve.files import Refused, media_file
from mmabench.serve.readonly import readonly_engine

HERE = Path(__file__).parent
COOKIE = "mmabench_token"


class TokenGate:
    """Every request needs the token: `?token=`, `Authorization: Bearer`, or the cookie set after a `?token=`
    visit (so links and <video> requests made by the page carry it)."""

    def __init__(self, app: ASGIApp, token: Optional[str]) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token:
            await self.app(scope, receive, send)
            return
        req = Request(scope)
        auth = req.headers.get("authorization", "")
        from_query = req.query_params.get("token")
        given = from_query or (auth[7:] if auth.lower().startswith("bearer ") else None) or req.cookies.get(COOKIE)
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            resp = PlainTextResponse(
                "401: this viewer needs its token (?token=… or Authorization: Bearer …)",
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await resp(scope, receive, send)
            return
        if not from_query:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _qs(params: dict[str, Any], **change: Any) -> str:
    """A query string from `params` with `change` applied (None drops a key)."""
    merged = {**params, **change}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")}, doseq=True)


def create_app(db_url: str, media_root: str | Path, token: Optional[str] = None) -> Starlette:
    engine: Engine = readonly_engine(db_url)
    root = Path(media_root)
    scored: dict[tuple[str, str], list[runs_q.Cell]] = {}  # this app's run scores (see runs_q.run_cells)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(qs=_qs, fmt=runs_q.fmt, ms=runs_q.ms, check_rows=clips_q.check_rows)

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    def index(request: Request) -> Response:
        return RedirectResponse("/items", 307)

    def item_list(request: Request) -> Response:
        q = request.query_params
        with engine.connect() as con:
            facets, runs = items_q.facets(con), items_q.runs(con)
            try:
                f = items_q.Filters.from_query(q)
            except items_q.BadFilter as e:
                return page(
                    request, "items.html", 400, error=str(e), f=items_q.Filters(), facets=facets, runs=runs, pg=None
                )
            pg = items_q.list_items(con, f, after=q.get("after", ""), before=q.get("before", ""))
        return page(request, "items.html", f=f, facets=facets, runs=runs, pg=pg, error=None)

    def item_page(request: Request) -> Response:
        with engine.connect() as con:
            it = items_q.item(con, request.path_params["item_id"])
        if it is None:
            raise HTTPException(404, "no such item")
        context, question = items_q.split_prompt(it["prompt"])
        return page(request, "item.html", it=it, context=context, question=question)

    def runs_page(request: Request) -> Response:
        chosen = request.query_params.getlist("run")
        with engine.connect() as con:
            runs = items_q.runs(con)
            chosen = chosen or [r["id"] for r in runs[-3:]]  # default: the latest three (scoring is O(run))
            known = {r["id"]: r for r in runs}
            tables = [(known[r], runs_q.run_cells(con, r, scored)) for r in chosen if r in known]
        return page(request, "runs.html", runs=runs, chosen=chosen, tables=tables)

    def compare_page(request: Request) -> Response:
        q = request.query_params
        with engine.connect() as con:
            runs = items_q.runs(con)
            known = {r["id"]: r for r in runs}
            a = q.get("a") or (runs[0]["id"] if runs else "")
            b = q.get("b") or (runs[1]["id"] if len(runs) > 1 else a)
            if a not in known or b not in known:
                raise HTTPException(404, "no such run")
            cmp = runs_q.compare(con, a, b, condition=q.get("condition", ""), after=q.get("after", ""))
        return page(
            request, "compare.html", runs=runs, known=known, cmp=cmp, condition=q.get("condition", ""), order=ORDER
        )

    def clips_page(request: Request) -> Response:
        q = request.query_params
        with engine.connect() as con:
            summary = clips_q.filter_summary(con)
            labels = items_q.facets(con)["class"]
            rows, next_after = clips_q.list_clips(
                con,
                label=q.get("label", ""),
                decision=q.get("decision", ""),
                filter_hash=q.get("filter_hash", ""),
                after=q.get("after", ""),
            )
        params = {k: q.get(k, "") for k in ("label", "decision", "filter_hash")}
        return page(
            request, "clips.html", summary=summary, labels=labels, rows=rows, next_after=next_after, params=params
        )

    def media(request: Request) -> Response:
        try:
            path = media_file(root, request.path_params["path"])
        except Refused:
            raise HTTPException(403, "outside the media store") from None
        except FileNotFoundError:
            raise HTTPException(404, "no such media file") from None
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind)  # honours Range: 206 Partial Content with Content-Range

    routes = [
        Route("/", index),
        Route("/items", item_list),
        Route("/items/{item_id}", item_page),
        Route("/runs", runs_page),
        Route("/compare", compare_page),
        Route("/clips", clips_page),
        Route("/media/{path:path}", media),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(TokenGate, token=token)])
    app.state.engine = engine
    return app
