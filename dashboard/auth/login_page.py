"""The sign-in form and the "not for your role" page: plain server-rendered HTML (they work
without JavaScript and before any Dash code loads), styled by ``assets/signin.css``."""
from __future__ import annotations

from markupsafe import escape

from dashboard.auth.passwords import MIN_LENGTH

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · CityLens</title>
<link rel="icon" href="/_favicon.ico">
<link rel="stylesheet" href="/assets/citylens.css"><link rel="stylesheet" href="/assets/signin.css">
</head><body class="signin-body"><main class="signin" id="main">
<p class="signin__brand"><span class="brand__lens" aria-hidden="true"><span class="brand__lens-dot">
</span></span> CityLens</p>
{body}
</main></body></html>"""


def login_html(token: str, target: str, error: str = "", username: str = "",
               expired: bool = False) -> str:
    """The sign-in form (with the anti-forgery ``token``; ``target`` is where to go after)."""
    notice = ""
    if error:
        notice = f'<p class="signin__error" role="alert">{escape(error)}</p>'
    elif expired:
        notice = ('<p class="signin__notice" role="status">Your session expired. '
                  'Sign in again to go on.</p>')
    body = f"""<h1>Sign in</h1>
<p class="signin__lead">City staff sign in to see the dashboard. The public kiosk and the
open-data API need no sign-in.</p>
{notice}
<form method="post" action="/login" class="signin__form">
<input type="hidden" name="csrf_token" value="{escape(token)}">
<input type="hidden" name="next" value="{escape(target)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus
 value="{escape(username)}" autocapitalize="none" spellcheck="false">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required
 minlength="{MIN_LENGTH}">
<button type="submit">Sign in</button>
</form>
<p class="signin__help">Forgot your password or locked out? Ask a CityLens administrator
(<code>citylens users</code>).</p>"""
    return _PAGE.format(title="Sign in", body=body)


def refusal_html(username: str, role: str) -> str:
    """403: the signed-in user's role may not open this page."""
    body = f"""<h1>Not available to your role</h1>
<p class="signin__lead">You are signed in as <strong>{escape(username)}</strong>
({escape(role.replace("_", " "))}). This page is for other roles; ask an administrator if you
need it.</p>
<p><a href="/">Go to the overview</a></p>"""
    return _PAGE.format(title="Not available", body=body)


def not_found_html() -> str:
    """404: no page at this address."""
    body = """<h1>No such page</h1>
<p class="signin__lead">There is no CityLens page at this address. It may have been mistyped,
or the link may be out of date.</p>
<p><a href="/">Go to the overview</a> · <a href="/kiosk">Public kiosk</a></p>"""
    return _PAGE.format(title="Not found", body=body)
