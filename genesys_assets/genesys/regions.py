"""Genesys Cloud regions and the API and login hosts the client talks to.

An org lives in one region; its API host is ``https://api.<domain>`` and its OAuth host
``https://login.<domain>``. ``GENESYS_REGION`` may name a region (``us_east_1``, ``eu-west-1``) or give
its domain (``mypurecloud.ie``); ``GENESYS_API_URL`` / ``GENESYS_LOGIN_URL`` override either host (the
sandbox, a proxy, tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from genesys_assets.genesys.errors import UnknownRegion

# Region name -> domain, as the official SDK's PureCloudRegionHosts enum lists them.
REGIONS: Final[dict[str, str]] = {
    "us_east_1": "mypurecloud.com",
    "us_east_2": "use2.us-gov-pure.cloud",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "eu_west_1": "mypurecloud.ie",
    "eu_west_2": "euw2.pure.cloud",
    "eu_central_1": "mypurecloud.de",
    "eu_central_2": "euc2.pure.cloud",
    "eusc_de_east_1": "edee1.eusc-pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "ap_southeast_2": "mypurecloud.com.au",
    "ap_northeast_1": "mypurecloud.jp",
    "ap_northeast_2": "apne2.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
}

DEFAULT_REGION: Final = "mypurecloud.com"

_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Hosts:
    """Base URLs (no trailing slash) of the API and the OAuth login service."""

    api_url: str
    login_url: str

    @property
    def login_host(self) -> str:
        """The login host name with port, used to key the shared rate-limit bucket."""
        return self.login_url.split("://", 1)[-1].split("/", 1)[0].lower()


def region_domain(region: str) -> str:
    """The domain of a region given by name (``us_east_1``, ``us-east-1``) or by domain.

    A URL or host such as ``https://api.mypurecloud.ie`` is reduced to its domain. Any other well-formed
    domain is accepted as is, so a region newer than this table still works.
    """
    text = (region or "").strip().lower()
    if not text:
        text = DEFAULT_REGION
    name = text.replace("-", "_")
    if name in REGIONS:
        return REGIONS[name]
    host = text.split("://", 1)[-1].split("/", 1)[0]
    for prefix in ("api.", "login."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    if _DOMAIN.match(host):
        return host
    valid = ", ".join(f"{key} ({domain})" for key, domain in REGIONS.items())
    raise UnknownRegion(
        f"Unknown Genesys Cloud region {region!r}. Set GENESYS_REGION to a region name or its domain; "
        f"valid regions: {valid}. To use another host (sandbox, proxy), set GENESYS_API_URL and "
        "GENESYS_LOGIN_URL."
    )


def _base_url(url: str, setting: str) -> str:
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = f"https://{text}"
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https") or not text.split("://", 1)[1]:
        raise UnknownRegion(
            f"{setting}={url!r} is not an http(s) URL; set it like https://api.mypurecloud.com."
        )
    return text


def resolve_hosts(region: str, api_url: str | None = None, login_url: str | None = None) -> Hosts:
    """API and login base URLs for a region, with optional overrides of either.

    When only ``api_url`` is given, the login URL is derived from it the way the SDK does (``api.`` ->
    ``login.``), or is the same origin when the host has no ``api.`` prefix (the sandbox serves both).
    """
    api = _base_url(api_url, "GENESYS_API_URL") if api_url else None
    login = _base_url(login_url, "GENESYS_LOGIN_URL") if login_url else None
    if api is None or login is None:
        if api is not None and login is None:
            scheme, rest = api.split("://", 1)
            login = f"{scheme}://login.{rest[4:]}" if rest.startswith("api.") else api
        else:
            domain = region_domain(region)
            api = api or f"https://api.{domain}"
            login = login or f"https://login.{domain}"
    assert api is not None and login is not None
    return Hosts(api_url=api, login_url=login)
