package tunnel

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendProgress reads TCP_INFO of each socket: acked sums the bytes the
// peers have acknowledged (it grows while a peer takes what is sent, even
// during one long blocked write, and stands still when the peer stops
// reading and its window closes); pending tells whether any socket still
// holds bytes not sent or not acknowledged. ok is false when a socket is
// not TCP or cannot be asked.
func sendProgress(sockets []net.Conn) (acked uint64, pending, ok bool) {
	for _, c := range sockets {
		sc, isSys := c.(syscall.Conn)
		if !isSys {
			return 0, false, false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return 0, false, false
		}
		var info *unix.TCPInfo
		var ierr error
		if err := rc.Control(func(fd uintptr) {
			info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		}); err != nil || ierr != nil {
			return 0, false, false
		}
		acked += info.Bytes_acked
		pending = pending || info.Notsent_bytes > 0 || info.Unacked > 0
	}
	return acked, pending, true
}
