import json
import os

from django.conf import settings
from django.http import (FileResponse, HttpResponse, HttpResponseBadRequest, JsonResponse,
                         StreamingHttpResponse)
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods


def info(request):
    return JsonResponse({"path": request.path, "full_path": request.get_full_path(),
                         "script_name": request.META.get("SCRIPT_NAME"),
                         "absolute": request.build_absolute_uri("/x?y=1"),
                         "secure": request.is_secure(), "method": request.method,
                         "get": request.GET.dict(), "user": str(request.user)})


@require_http_methods(["POST"])
def echo(request):
    # No CSRF exemption on purpose: without the cookie and token this is a 403.
    try:
        payload = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("bad json\n")
    return JsonResponse({"got": payload, "content_type": request.content_type}, status=201)


def stream(request):
    n = int(request.GET.get("n", "100"))
    return StreamingHttpResponse((f"{i},row {i}\n" for i in range(n)), content_type="text/csv")


def file(request):
    return FileResponse(open(os.path.join(settings.DATA, "report.bin"), "rb"))


def attachment(request):
    return FileResponse(open(os.path.join(settings.DATA, "notes.txt"), "rb"), as_attachment=True,
                        filename="notes.txt")


def form(request):
    if request.method == "POST":
        return HttpResponse(f"posted {request.POST.get('name', '')}\n")
    return HttpResponse(f'<form method="post"><input type="hidden" name="csrfmiddlewaretoken" '
                        f'value="{get_token(request)}"></form>')


def go(request):
    return redirect("/api/info?from=redirect")


def boom(request):
    raise RuntimeError("django view failed")


def cookies(request):
    seen = {k: v for k, v in sorted(request.COOKIES.items()) if k != "signed"}
    seen["signed"] = request.get_signed_cookie("signed", default=None, salt="s")
    resp = JsonResponse(seen)
    resp.set_cookie("dj", "value", max_age=60, httponly=True, samesite="Lax")
    resp.set_signed_cookie("signed", "payload", salt="s")
    return resp
