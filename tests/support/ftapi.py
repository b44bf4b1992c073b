"""Raw HTTP calls to the France Travail emulator (no cpfft code in between)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlencode

from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET

SEARCH = "/partenaire/offresdemploi/v2/offres/search"
TOKEN = "/connexion/oauth2/access_token"


def call(emulator, path, params=None, *, token=None, form=None, realm="/partenaire"):
    url = emulator.url + path
    if form is not None:
        url += "?" + urlencode({"realm": realm}) if realm is not None else ""
        data = urlencode(form).encode()
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    else:
        url += "?" + urlencode(params or {}) if params else ""
        request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def token_of(emulator, **overrides):
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scope": "api_offresdemploiv2 o2dsoffre"} | overrides  # fmt: skip
    status, headers, body = call(emulator, TOKEN, form=form)
    return status, headers, json.loads(body)
