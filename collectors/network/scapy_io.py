"""Everything that touches scapy (the project's only scapy import): live capture sockets with
a kernel BPF filter, and scapy's TLS cipher-suite registry for cipher names.

scapy is imported lazily: importing it costs most of a second and pcap import only needs the
cipher names once a TLS hello shows up.
"""

from __future__ import annotations

import errno
import functools
import logging
import select
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from core.errors import InvalidInput, PermissionDenied, Unavailable

LINKTYPE_ETHERNET = 1
PACKET_OUTGOING = 4  # linux/if_packet.h


@functools.lru_cache(maxsize=1)
def _cipher_table() -> dict[int, str]:
    try:
        from scapy.layers.tls.crypto.suites import _tls_cipher_suites
    except Exception:  # scapy's TLS layer needs `cryptography`; names are a nicety
        return {}
    return dict(_tls_cipher_suites)


def cipher_name(code: int) -> str:
    return _cipher_table().get(code) or f"0x{code:04x}"


def interfaces() -> list[str]:
    return [name for _index, name in socket.if_nameindex()]


class LiveSource:
    """Frames from one interface: ``(timestamp, link type, bytes, wire length)`` records."""

    def __init__(self, interface: str, bpf_filter: str | None = None, *, snaplen: int = 65535,
                 poll_seconds: float = 0.25) -> None:
        self.interface = interface
        self.bpf_filter = bpf_filter or None
        self.snaplen = snaplen
        self.poll_seconds = poll_seconds
        self._sock: Any = None
        self._loopback = interface == "lo" or interface.startswith("lo:")

    def open(self) -> None:
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # "Unable to guess type" noise
        import scapy.arch  # noqa: F401  (loads the platform's capture sockets into conf)
        from scapy.config import conf
        from scapy.error import Scapy_Exception

        if self.interface not in interfaces():
            raise InvalidInput(f"Network interface {self.interface!r} does not exist; "
                               f"choose one of: {', '.join(interfaces())}.")
        try:
            self._sock = conf.L2listen(iface=self.interface, filter=self.bpf_filter)
        except PermissionError as exc:
            raise PermissionDenied(
                f"Live capture on {self.interface} needs root or the CAP_NET_RAW capability "
                f"({exc.strerror}); run as root or grant it: setcap cap_net_raw,cap_net_admin=eip "
                "<python>.") from exc
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise PermissionDenied(
                    f"Live capture on {self.interface} needs root or the CAP_NET_RAW capability; "
                    "run as root or grant the capability to the Python interpreter.") from exc
            raise Unavailable(f"Cannot open {self.interface} for capture: {exc}; check the interface.") from exc
        except Scapy_Exception as exc:
            raise InvalidInput(f"Cannot apply capture filter {self.bpf_filter!r}: {exc}; "
                               "check the BPF syntax (tcpdump -d 'FILTER').") from exc

    def records(self, stop: Callable[[], bool]) -> Iterator[tuple[float, int, bytes, int]]:
        """Frames until ``stop()`` is true (checked at least every ``poll_seconds``)."""
        if self._sock is None:
            self.open()
        sock = self._sock
        while not stop():
            ready, _w, _x = select.select([sock], [], [], self.poll_seconds)
            if not ready:
                continue
            try:
                data, ts = self._receive(sock)
            except OSError:
                continue
            if data is None:
                continue
            yield (ts if ts is not None else time.time()), LINKTYPE_ETHERNET, bytes(data), len(data)

    def _receive(self, sock: Any) -> tuple[bytes | None, float | None]:
        """One frame. On loopback every packet is seen leaving and arriving; like libpcap, keep
        only the arriving copy (scapy's public ``recv_raw`` hides the packet direction)."""
        raw_recv = getattr(sock, "_recv_raw", None)
        if raw_recv is None:
            _cls, data, ts = sock.recv_raw(self.snaplen)
            return data, ts
        data, sa_ll, ts = raw_recv(sock.ins, self.snaplen)
        if self._loopback and sa_ll and sa_ll[2] == PACKET_OUTGOING:
            return None, None
        if ts is None:
            from scapy.arch.linux import get_last_packet_timestamp

            ts = get_last_packet_timestamp(sock.ins)
        return data, ts

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
