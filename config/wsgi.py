"""The WSGI entry point gunicorn serves.

The provider's delivery-report pushes (a thousand a second at the bulk rate) go to a lean handler
that skips the middleware they do not need (api.report_wsgi says when); everything else to Django.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from api import report_wsgi  # noqa: E402 - needs the apps loaded by get_wsgi_application


def application(environ, start_response):
    if report_wsgi.handles(environ):
        return report_wsgi.report_application(environ, start_response)
    return django_application(environ, start_response)
