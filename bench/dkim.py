"""Milliseconds per DKIM-signed 2048-bit message: our signer (OpenSSL) against dkimpy.

    .venv/bin/python -m bench.dkim [--messages 1000] [--repeats 5]

In one run, on the same rendered digest (10 papers, bench.render's pool), it measures (best
of --repeats, each over --messages signatures):
- dkimpy: `dkim.sign` with our canonicalisation and h= list (pure-Python RSA);
- ours: `DkimSigner.signature` on the same bytes (canonicalise, hash, RSA through OpenSSL);
- of which RSA: `RSAPrivateKey.sign` alone on a header block of the same size;
- render + bytes, DKIM off and on: the whole per-subscriber cost as the sender pays it.
Both signatures are checked with `dkim.verify` before anything is timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench.render import EDITION, bench_settings, paper_pool, reader_entries
from digest.render.dkim import CANONICALIZATION, SIGNED_HEADERS, DkimSigner, load_key
from digest.render.renderer import DigestRenderer

SETTINGS = bench_settings()


def per_call(count: int, repeats: int, work: Callable[[int], object]) -> float:
    """Seconds per call of `work(i)`, best of `repeats` runs of `count` calls."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for index in range(count):
            work(index)
        timings.append((time.perf_counter() - started) / count)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    count, repeats = args.messages, args.repeats
    pool = paper_pool()
    entries = reader_entries(pool, 1)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dkim.pem"
        path.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        signing = SETTINGS.model_copy(update={"dkim_key_file": path, "dkim_selector": "s1"})
        key = load_key(signing.email)
    assert key is not None
    signer = DkimSigner(key)
    plain = DigestRenderer(SETTINGS.email, EDITION)
    raw = plain.render(subscriber_id=1, email="r1@example.com", entries=entries).as_bytes()
    names = [name.encode("ascii") for name in SIGNED_HEADERS]

    def by_dkimpy(_: int) -> bytes:
        return bytes(
            dkim.sign(
                raw,
                b"s1",
                key.domain.encode("ascii"),
                key.pem,
                canonicalize=CANONICALIZATION,
                include_headers=names,
            )
        )

    def by_us(_: int) -> str:
        return signer.signature(raw)

    record = key.public_record().encode("ascii")
    for signed in (by_dkimpy(0) + raw, signer.sign_bytes(raw)):
        assert dkim.verify(signed, dnsfunc=lambda *_, **__: record), "a signature fails"

    header_block = raw.split(b"\r\n\r\n", 1)[0]

    def rsa_only(_: int) -> bytes:
        return key.private_key.sign(header_block, padding.PKCS1v15(), hashes.SHA256())

    def render_bytes(renderer: DigestRenderer) -> Callable[[int], bytes]:
        def work(index: int) -> bytes:
            subscriber = index + 1
            message = renderer.render(
                subscriber_id=subscriber,
                email=f"r{subscriber}@example.com",
                entries=reader_entries(pool, subscriber),
            )
            return message.as_bytes()

        return work

    slow_count = max(20, count // 10)
    theirs = per_call(slow_count, repeats, by_dkimpy)
    ours = per_call(count, repeats, by_us)
    rsa_part = per_call(count, repeats, rsa_only)
    off = per_call(count, repeats, render_bytes(plain))
    on = per_call(count, repeats, render_bytes(DigestRenderer(signing.email, EDITION)))
    print(f"message                  {len(raw):,} bytes, 2048-bit RSA, relaxed/relaxed")
    print(f"dkimpy dkim.sign         {theirs * 1e3:7.3f} ms/message ({slow_count} x {repeats})")
    print(f"ours DkimSigner          {ours * 1e3:7.3f} ms/message ({count} x {repeats})")
    print(f"  of which RSA (OpenSSL) {rsa_part * 1e3:7.3f} ms/message")
    print(f"speed-up                 {theirs / ours:7.1f}x (dkimpy / ours)")
    print(f"render + bytes, DKIM off {off * 1e3:7.3f} ms/subscriber")
    print(f"render + bytes, DKIM on  {on * 1e3:7.3f} ms/subscriber (signing serialises twice)")


if __name__ == "__main__":
    main()
