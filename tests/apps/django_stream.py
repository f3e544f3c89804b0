"""A one-file Django project: a StreamingHttpResponse of 500 CSV rows."""
import django
from django.conf import settings

settings.configure(DEBUG=False, SECRET_KEY="test-only", ROOT_URLCONF=__name__,
                   ALLOWED_HOSTS=["*"], MIDDLEWARE=[], INSTALLED_APPS=[])
django.setup()

from django.http import StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402


def rows(request):
    return StreamingHttpResponse((f"{i},row {i}\n" for i in range(500)),
                                 content_type="text/csv")


urlpatterns = [path("rows", rows)]
application = get_wsgi_application()
