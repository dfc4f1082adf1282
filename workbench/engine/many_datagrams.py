"""Reading many UDP datagrams with one system call: Linux's recvmmsg(2), through ctypes.

Python's socket module reads one datagram per call and lets go of the GIL around each one;
under a flood the engine thread then waited for the UI thread to hand the GIL back after
every datagram. recvmmsg reads up to a whole batch in one non-blocking call made while
holding the GIL (ctypes.PyDLL), and the sender's address is decoded once per sender, not
once per datagram.

`BatchReceiver.create()` returns None where recvmmsg is missing (not Linux): the caller
then reads one datagram at a time.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import os
import socket
import struct
import sys
import threading
from typing import Any

MSG_DONTWAIT = 0x40
MSG_TRUNC = 0x20
SOCKADDR_BYTES = 128  # sizeof(struct sockaddr_storage)
# Decoded sender addresses kept (a flood comes from a few; a scan from many).
MAX_CACHED_ADDRESSES = 4096


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_IoVec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint)]


def _load_recvmmsg() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # PyDLL keeps the GIL during the call: it never blocks (MSG_DONTWAIT), and handing
        # the GIL over and back is what this module saves.
        function = ctypes.PyDLL(None, use_errno=True).recvmmsg
    except (AttributeError, OSError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.POINTER(_MMsgHdr),
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    function.restype = ctypes.c_int
    return function


def _fields_struct() -> struct.Struct:
    """Unpacks (msg_namelen, msg_flags, msg_len) from one mmsghdr, at the offsets this
    platform's compiler gave them."""
    fields = sorted(
        [
            (_MsgHdr.msg_namelen.offset, "I"),
            (_MsgHdr.msg_flags.offset, "i"),
            (_MMsgHdr.msg_len.offset, "I"),
        ]
    )
    layout, at = "=", 0
    for offset, code in fields:
        layout += f"{offset - at}x{code}"
        at = offset + 4
    return struct.Struct(layout + f"{ctypes.sizeof(_MMsgHdr) - at}x")


def decode_sockaddr(raw: bytes) -> Any:
    """The address tuple Python's recvfrom gives for a sockaddr_in or sockaddr_in6."""
    family = int.from_bytes(raw[:2], sys.byteorder)
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), port
    if family == socket.AF_INET6:
        flowinfo = int.from_bytes(raw[4:8], "big")
        scope_id = int.from_bytes(raw[24:28], sys.byteorder)
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), port, flowinfo, scope_id
    raise ValueError(f"not an IP socket address (family {family})")


class BatchReceiver:
    """Buffers for `count` datagrams of up to `slot` bytes, and the call that fills them.

    One per engine thread (see `for_this_thread`): every socket of the engine reads through
    it in turn, so its memory is paid once, and only the pages datagrams touch are used.
    """

    def __init__(self, recvmmsg: Any, count: int, slot: int) -> None:
        self._recvmmsg = recvmmsg
        self.count = count
        self.slot = slot
        self._buffer = bytearray(count * slot)
        self._view = memoryview(self._buffer)
        self._names = bytearray(count * SOCKADDR_BYTES)
        data = (ctypes.c_char * len(self._buffer)).from_buffer(self._buffer)
        names = (ctypes.c_char * len(self._names)).from_buffer(self._names)
        self._iovecs = (_IoVec * count)()
        self._messages = (_MMsgHdr * count)()
        for index in range(count):
            self._iovecs[index].iov_base = ctypes.addressof(data) + index * slot
            self._iovecs[index].iov_len = slot
            header = self._messages[index].msg_hdr
            header.msg_name = ctypes.addressof(names) + index * SOCKADDR_BYTES
            header.msg_namelen = SOCKADDR_BYTES
            header.msg_iov = ctypes.pointer(self._iovecs[index])
            header.msg_iovlen = 1
        self._keep_alive = (data, names)
        size = ctypes.sizeof(_MMsgHdr)
        self._header_bytes = memoryview(
            (ctypes.c_char * (count * size)).from_buffer(self._messages)
        ).cast("B")
        # The kernel overwrites each used header's msg_namelen: restored from this copy.
        self._pristine = bytes(self._header_bytes)
        self._header_size = size
        self._fields = _fields_struct()
        self._addresses: dict[bytes, Any] = {}

    @classmethod
    def create(cls, count: int, slot: int) -> BatchReceiver | None:
        function = _load_recvmmsg()
        return None if function is None else cls(function, count, slot)

    def receive(self, fd: int) -> tuple[list[tuple[bytes, Any]], OSError | None]:
        """Up to `count` datagrams waiting on `fd` (an IPv4 or IPv6 datagram socket), and
        the error the call reported instead, if any (e.g. port unreachable)."""
        got = self._recvmmsg(fd, self._messages, self.count, MSG_DONTWAIT, None)
        if got <= 0:
            errno = ctypes.get_errno()
            if got == 0 or errno in (errnos.EAGAIN, errnos.EWOULDBLOCK, errnos.EINTR):
                return [], None
            return [], OSError(errno, os.strerror(errno))
        used = got * self._header_size
        headers = self._header_bytes[:used]
        view, names, slot = self._view, self._names, self.slot
        addresses = self._addresses
        batch: list[tuple[bytes, Any]] = []
        error: OSError | None = None
        name_at = data_at = 0
        for namelen, flags, length in self._fields.iter_unpack(headers):
            raw = bytes(names[name_at : name_at + namelen])
            address = addresses.get(raw)
            if address is None:
                if len(addresses) >= MAX_CACHED_ADDRESSES:
                    addresses.clear()
                address = addresses[raw] = decode_sockaddr(raw)
            if flags & MSG_TRUNC:
                error = OSError(f"a datagram over {slot:,} bytes was cut to that size")
            batch.append((bytes(view[data_at : data_at + length]), address))
            name_at += SOCKADDR_BYTES
            data_at += slot
        self._header_bytes[:used] = self._pristine[:used]
        return batch, error


_local = threading.local()


def for_this_thread(count: int, slot: int) -> BatchReceiver | None:
    """The calling thread's receiver (made on first use), or None without recvmmsg."""
    receiver = getattr(_local, "receiver", False)
    if receiver is False or (
        receiver is not None and (receiver.count, receiver.slot) != (count, slot)
    ):
        receiver = _local.receiver = BatchReceiver.create(count, slot)
    return receiver
