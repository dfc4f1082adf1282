"""Reading many UDP datagrams with one system call: Linux's recvmmsg(2), through ctypes.

Python's socket module reads one datagram per call and lets go of the GIL around each one;
under a flood the engine thread then waited for the UI thread to hand the GIL back after
every datagram. recvmmsg reads up to a whole batch in one non-blocking call (the GIL let go
once for it, so the UI thread runs while the kernel copies), and the sender's address is
decoded once per sender, not once per datagram.

`BatchReceiver.create()` returns None where recvmmsg is missing (not Linux): the caller
then reads one datagram at a time.

On a socket with SO_RXQ_OVFL on, each datagram the kernel queued after it had dropped some
carries the socket's drop count so far (a control message). The count only grows, so only
the last datagram of a batch is looked at: `dropped` after each call.
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

# Datagrams read, their senders as (address, how many datagrams in a row), and an error.
Received = tuple[list[bytes], list[tuple[Any, int]], OSError | None]

MSG_DONTWAIT = 0x40
MSG_TRUNC = 0x20
SOCKADDR_BYTES = 128  # sizeof(struct sockaddr_storage)
# Decoded sender addresses kept (a flood comes from a few; a scan from many).
MAX_CACHED_ADDRESSES = 4096
# Where each datagram starts (see BatchReceiver): most datagrams of a flood fit.
SMALL_SLOT_BYTES = 2048
SOL_SOCKET = socket.SOL_SOCKET
SO_RXQ_OVFL = 40  # Linux (asm-generic): the drop count in each datagram's control data
# Room for one control message with a 4-byte value: CMSG_SPACE(4) on 64-bit Linux is 24.
CONTROL_BYTES = 32
_CMSG_HEADER = struct.Struct("@Nii")  # cmsg_len (size_t), cmsg_level, cmsg_type
_U32 = struct.Struct("@I")


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
        # CDLL lets go of the GIL during the call: once per batch, while the kernel copies
        # up to a batch of datagrams (measured: more records a second than keeping it).
        function = ctypes.CDLL(None, use_errno=True).recvmmsg
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
        # Each datagram lands in a small slot (the common case: the small slots lie side by
        # side, so a batch touches few pages) and goes on into its own large slot if longer.
        small = min(SMALL_SLOT_BYTES, slot)
        self._small_slot = small
        self._small = bytearray(count * small)
        self._large = bytearray(count * (slot - small))
        self._small_view = memoryview(self._small)
        self._large_view = memoryview(self._large)
        self._names = bytearray(count * SOCKADDR_BYTES)
        self._controls = bytearray(count * CONTROL_BYTES)
        small_data = (ctypes.c_char * len(self._small)).from_buffer(self._small)
        large_data = (ctypes.c_char * max(1, len(self._large))).from_buffer(
            self._large if self._large else bytearray(1)
        )
        names = (ctypes.c_char * len(self._names)).from_buffer(self._names)
        controls = (ctypes.c_char * len(self._controls)).from_buffer(self._controls)
        self._iovecs = (_IoVec * (2 * count))()
        self._messages = (_MMsgHdr * count)()
        for index in range(count):
            first, second = self._iovecs[2 * index], self._iovecs[2 * index + 1]
            first.iov_base = ctypes.addressof(small_data) + index * small
            first.iov_len = small
            second.iov_base = ctypes.addressof(large_data) + index * (slot - small)
            second.iov_len = slot - small
            header = self._messages[index].msg_hdr
            header.msg_name = ctypes.addressof(names) + index * SOCKADDR_BYTES
            header.msg_namelen = SOCKADDR_BYTES
            header.msg_iov = ctypes.pointer(first)
            header.msg_iovlen = 2 if slot > small else 1
            header.msg_control = ctypes.addressof(controls) + index * CONTROL_BYTES
            header.msg_controllen = CONTROL_BYTES
        self._keep_alive = (small_data, large_data, names, controls)
        size = ctypes.sizeof(_MMsgHdr)
        self._header_bytes = memoryview(
            (ctypes.c_char * (count * size)).from_buffer(self._messages)
        ).cast("B")
        # The kernel overwrites each used header's msg_namelen and msg_controllen: restored
        # from this copy.
        self._pristine = bytes(self._header_bytes)
        self._header_size = size
        self._fields = _fields_struct()
        self._addresses: dict[bytes, Any] = {}
        # The drop count the last datagram of the last call carried (0: none carried one).
        self.dropped = 0

    @classmethod
    def create(cls, count: int, slot: int) -> BatchReceiver | None:
        function = _load_recvmmsg()
        return None if function is None else cls(function, count, slot)

    def receive(self, fd: int) -> Received:
        """Up to `count` datagrams waiting on `fd` (an IPv4 or IPv6 datagram socket), their
        senders, and the error the call reported instead, if any (e.g. port unreachable)."""
        got = self._recvmmsg(fd, self._messages, self.count, MSG_DONTWAIT, None)
        self.dropped = 0
        if got <= 0:
            errno = ctypes.get_errno()
            if got == 0 or errno in (errnos.EAGAIN, errnos.EWOULDBLOCK, errnos.EINTR):
                return [], [], None
            return [], [], OSError(errno, os.strerror(errno))
        used = got * self._header_size
        headers = self._header_bytes[:used]
        small_view, large_view = self._small_view, self._large_view
        small, large = self._small_slot, self.slot - self._small_slot
        names = self._names
        addresses = self._addresses
        datagrams: list[bytes] = []
        add = datagrams.append
        senders: list[tuple[Any, int]] = []  # (address, how many in a row), in order
        error: OSError | None = None
        name_at = small_at = large_at = 0
        raw, address, run = b"", None, 0  # the last sender: a flood comes from one
        for namelen, flags, length in self._fields.iter_unpack(headers):
            if namelen != len(raw) or not names.startswith(raw, name_at):
                if run:
                    senders.append((address, run))
                raw, run = bytes(names[name_at : name_at + namelen]), 0
                address = addresses.get(raw)
                if address is None:
                    if len(addresses) >= MAX_CACHED_ADDRESSES:
                        addresses.clear()
                    address = addresses[raw] = decode_sockaddr(raw)
            run += 1
            if flags & MSG_TRUNC:
                error = OSError(f"a datagram over {self.slot:,} bytes was cut to that size")
            if length <= small:
                add(bytes(small_view[small_at : small_at + length]))
            else:
                add(
                    bytes(small_view[small_at : small_at + small])
                    + bytes(large_view[large_at : large_at + length - small])
                )
            name_at += SOCKADDR_BYTES
            small_at += small
            large_at += large
        senders.append((address, run))
        if self._messages[got - 1].msg_hdr.msg_controllen:  # once per call, not per datagram
            self.dropped = self._drop_count(got - 1)
        self._header_bytes[:used] = self._pristine[:used]
        return datagrams, senders, error

    def _drop_count(self, index: int) -> int:
        """The SO_RXQ_OVFL count in message `index`'s control data, else 0."""
        header = self._messages[index].msg_hdr
        at, end = index * CONTROL_BYTES, index * CONTROL_BYTES + header.msg_controllen
        while at + _CMSG_HEADER.size <= end:
            length, level, kind = _CMSG_HEADER.unpack_from(self._controls, at)
            if length < _CMSG_HEADER.size:
                break
            if level == SOL_SOCKET and kind == SO_RXQ_OVFL and length >= _CMSG_HEADER.size + 4:
                return int(_U32.unpack_from(self._controls, at + _CMSG_HEADER.size)[0])
            at += (length + 7) & ~7
        return 0


_local = threading.local()


def for_this_thread(count: int, slot: int) -> BatchReceiver | None:
    """The calling thread's receiver (made on first use), or None without recvmmsg."""
    if not hasattr(_local, "receiver"):
        _local.receiver = BatchReceiver.create(count, slot)
    receiver: BatchReceiver | None = _local.receiver
    if receiver is not None and (receiver.count, receiver.slot) != (count, slot):
        receiver = _local.receiver = BatchReceiver.create(count, slot)
    return receiver
