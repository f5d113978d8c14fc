"""Any SMS gateway with a small HTTP API: POST the message as JSON with a Bearer token.

    {"to": "+905321112233", "from": "KERVAN", "text": "…", "key": "<Outgoing.key>"}

A 2xx accepts it (its JSON "id", when there is one, names the message for delivery reports); a 4xx refuses it for
good; a timeout, 429, 502/503/504 may go later (kervan.core.http decides, and a Retry-After is obeyed). "key" is
Kervan's name for the message, so a gateway that keeps it can drop a repeat.
"""

from kervan.core import http
from kervan.messaging.channels.base import Outgoing, Sent, TransportError
from kervan.messaging.channels.sms.common import check_e164, from_http_error, json_body, timeout

PROVIDER = "SMS gateway"


class HttpTransport:
    channel = "sms"

    def __init__(self, url: str, token: str = "", timeout: float = 10) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    def __enter__(self) -> "HttpTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # kervan.core.http keeps the connections, per process

    def send(self, message: Outgoing) -> Sent:
        to = check_e164(message.to, PROVIDER)
        if not message.text:
            raise TransportError(f"{PROVIDER}: the message has no text", permanent=True)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = {"to": to, "from": message.sender.address, "text": message.text, "key": message.key}
        try:
            response = http.request("POST", self.url, json=payload, headers=headers, timeout=timeout(self.timeout))
        except http.HttpError as error:
            raise from_http_error(error, PROVIDER, error.body[:200]) from error
        if response.status >= 300:  # a redirect is not followed: the URL is wrong, the message did not go
            raise TransportError(f"{PROVIDER}: HTTP {response.status} (a redirect: check the URL)", permanent=True)
        answer = json_body(response.body)
        provider_id = answer.get("id") if isinstance(answer, dict) else None
        return Sent(provider_id="" if provider_id is None else str(provider_id))
