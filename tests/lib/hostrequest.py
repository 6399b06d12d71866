"""One request made on the test host itself (run there by scenario.host_python), so that nginx
sees a client other than the controller: loopback, the host's own address, or a unix socket.

    hostrequest.py TARGET PORT SCHEME PATH NAME
        TARGET  an address, or the path of a unix socket (PORT is then ignored)
        SCHEME  http or https (certificate not verified: the check is about who may ask)
        NAME    the TLS SNI and Host header

Prints {"status", "headers" (lower-case names), "body"}.
"""
import http.client
import json
import socket
import ssl
import sys


def main(target: str, port: int, scheme: str, path: str, name: str) -> dict:
    if target.startswith("/"):
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(target)
    else:
        sock = socket.create_connection((target, port), 10)
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname=name)
    conn = http.client.HTTPConnection(name, port, timeout=10)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": name})
        response = conn.getresponse()
        return {"status": response.status, "headers": {k.lower(): v for k, v in response.getheaders()},
                "body": response.read().decode(errors="replace")}
    finally:
        conn.close()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])))
