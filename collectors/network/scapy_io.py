"""Everything that touches scapy (the project's only scapy import): live capture sockets with
a kernel BPF filter, and scapy's TLS cipher-suite registry for cipher names.

scapy is imported lazily: importing it costs most of a second and pcap import only needs the
cipher names once a TLS hello shows up.
"""

from __future__ import annotations

import errno
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from core.errors import InvalidInput, PermissionDenied, Unavailable

LINKTYPE_ETHERNET = 1


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
    from scapy.interfaces import get_if_list

    return list(get_if_list())


class LiveSource:
    """Frames from one interface: ``(timestamp, link type, bytes, wire length)`` records."""

    def __init__(self, interface: str, bpf_filter: str | None = None, *, snaplen: int = 65535,
                 poll_seconds: float = 0.25) -> None:
        self.interface = interface
        self.bpf_filter = bpf_filter or None
        self.snaplen = snaplen
        self.poll_seconds = poll_seconds
        self._sock: Any = None

    def open(self) -> None:
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
        from scapy.arch.common import compile_filter  # noqa: F401  (fails early if no libpcap)
        from scapy.sendrecv import select_objects

        if self._sock is None:
            self.open()
        sock = self._sock
        while not stop():
            ready = select_objects([sock], self.poll_seconds)
            if not ready:
                continue
            try:
                _cls, data, ts = sock.recv_raw(self.snaplen)
            except OSError:
                continue
            if data is None:
                continue
            yield (ts if ts is not None else time.time()), LINKTYPE_ETHERNET, bytes(data), len(data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
