"""What a browser asks for besides the API: the chat page, its icon, and the API docs served offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

WEB = Path(__file__).parent / "web"


def add_pages(app: FastAPI) -> None:
    """Mount the web page, the favicon, Swagger UI's own files (no CDN: /docs works offline) and Slack's route."""
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")  # before /static
    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(WEB / "favicon.ico", media_type="image/x-icon")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="sourcier — API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/favicon.ico")

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack events, slash commands and button clicks (HTTP mode), signature-verified by Bolt."""
        handler = request.app.state.slack_handler
        if handler is None:
            return JSONResponse({"detail": "Slack is not configured on this server: set SLACK_BOT_TOKEN and "
                                           "SLACK_SIGNING_SECRET (README, 'Connect Slack')"}, status_code=404)
        response: Response = await handler.handle(request)
        return response
