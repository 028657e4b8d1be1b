"""Peak memory of the Peruri client when sending and downloading large documents.

    .venv/bin/python bench/client_memory.py [--sizes 10,50,100] [--no-naive]

Starts a throwaway HTTP server on 127.0.0.1 in a subprocess (it discards request bodies and answers
like Peruri), then measures each case in a fresh child process: the growth of the child's peak RSS
(VmHWM in /proc/self/status) from just before the document is loaded or requested until the call
returns, divided by the document's size. Targets (issue 3): <= 2.0 for sends; for a download, no
more than the reply's base64 text (1.33x) and the decoded PDF (1.0x), so <= 2.5 with slack.

Cases:
  send/bytes   the PDF is read into memory (counted: 1.0x of it is the input itself), then sent
  send/file    the PDF is passed as an open file object
  video/file   verify_video with a video file (the e-KYC path)
  download     download_document: the reply's base64 text plus the decoded PDF
  naive/bytes  reference only: requests.post(json=...) with the whole base64 string in a dict
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def vm_hwm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


# --- the throwaway server -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    downloads: dict[int, bytes] = {}

    def do_POST(self) -> None:
        remaining = int(self.headers.get("Content-Length", "0"))
        head = b""
        while remaining:
            chunk = self.rfile.read(min(remaining, MB))
            if not chunk:
                break
            if len(head) < 4096:
                head += chunk[:4096]
            remaining -= len(chunk)
        if "getJsonWebToken" in self.path:
            reply = b'{"resultCode":"0","resultDesc":"ok","data":{"jwt":"bench","expiredDate":"2999-01-01 00:00:00"}}'
        elif "downloadDocument" in self.path:
            size = int(json.loads(head)["param"]["orderId"])
            if size not in self.downloads:
                pdf = b"%PDF-1.7\n" + os.urandom(size - 9)
                self.downloads[size] = (
                    b'{"resultCode":"0","resultDesc":"Success","data":{"base64Document":"'
                    + base64.b64encode(pdf)
                    + b'"}}'
                )
            reply = self.downloads[size]
        else:
            reply = b'{"resultCode":"0","resultDesc":"Success","data":{"orderId":"1"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        return None


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(server.server_port, flush=True)
    server.serve_forever()


# --- one measurement, in a fresh process ---------------------------------------------------------


def child(case: str, size: int, path: str, port: int) -> None:
    sys.path.insert(0, str(ROOT))
    import requests

    from peruri import PeruriClient, PeruriConfig

    base = f"http://127.0.0.1:{port}/gateway/"
    client = PeruriClient(PeruriConfig(api_key="bench-key", system_id="BENCH", base_url=base))
    client.check_document_status(order_id="0")  # JWT, connection and imports warmed up
    before = vm_hwm_bytes()
    started = time.perf_counter()
    if case == "send/bytes":
        pdf = Path(path).read_bytes()
        client.send_document(email="bench@example.com", file_name="bench.pdf", pdf=pdf)
    elif case == "send/file":
        with open(path, "rb") as f:
            client.send_document(email="bench@example.com", file_name="bench.pdf", pdf=f)
    elif case == "video/file":
        with open(path, "rb") as f:
            client.verify_video(email="bench@example.com", video=f)
    elif case == "download":
        pdf = client.download_document(order_id=str(size))
        assert len(pdf) == size and pdf.startswith(b"%PDF-")
    elif case == "naive/bytes":
        pdf = Path(path).read_bytes()
        body = {"param": {"email": "bench@example.com", "payload": {"fileName": "b.pdf",
                "base64Document": base64.b64encode(pdf).decode()}, "systemId": "BENCH"}}  # fmt: skip
        requests.post(base + "digitalSignatureFullJwtSandbox/1.0/sendDocument/v1", json=body, timeout=120)
    else:
        raise SystemExit(f"unknown case {case}")
    elapsed = time.perf_counter() - started
    growth = vm_hwm_bytes() - before
    print(json.dumps({"growth": growth, "seconds": elapsed}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,50,100", help="document sizes in MiB")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive json.dumps reference")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=4, metavar=("CASE", "SIZE", "PATH", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.child:
        case, size, path, port = args.child
        child(case, int(size), path, int(port))
        return

    cases = ["send/bytes", "send/file", "video/file", "download"] + ([] if args.no_naive else ["naive/bytes"])
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        print(f"{'case':<12} {'size':>7} {'peak RSS growth':>16} {'ratio':>6} {'time':>7}")
        worst_send = worst_download = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for size_mb in (int(s) for s in args.sizes.split(",")):
                size = size_mb * MB
                path = os.path.join(tmp, f"{size_mb}.pdf")
                with open(path, "wb") as f:
                    f.write(b"%PDF-1.7\n")
                    remaining = size - 9
                    while remaining:
                        block = os.urandom(min(remaining, 4 * MB))
                        f.write(block)
                        remaining -= len(block)
                for case in cases:
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", case, str(size), path, str(port)],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    ratio = result["growth"] / size
                    if case.startswith(("send", "video")):
                        worst_send = max(worst_send, ratio)
                    elif case == "download":
                        worst_download = max(worst_download, ratio)
                    print(
                        f"{case:<12} {size_mb:>4} MB {result['growth'] / MB:>13.1f} MB {ratio:>5.2f}x"
                        f" {result['seconds']:>6.2f}s",
                        flush=True,
                    )
        verdict = "OK" if worst_send <= 2.0 else "OVER BUDGET"
        print(f"worst send ratio {worst_send:.2f}x (target <= 2.0x): {verdict}")
        verdict = "OK" if worst_download <= 2.5 else "OVER BUDGET"
        print(f"worst download ratio {worst_download:.2f}x (target <= 2.5x: base64 text + PDF): {verdict}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
