//! `helios-udp`: the sockets flow collectors receive on.
//!
//! Every worker binds its own socket to the same address with `SO_REUSEPORT`: the kernel spreads
//! exporters over the sockets by a hash of their address and port, so one exporter's datagrams
//! always reach the same worker — its template state stays in one place and its flows stay in order.
//! Receive buffers are large (bursts wait in the kernel, not on the wire), and receives time out so a
//! worker notices a shutdown.
#![forbid(unsafe_code)]

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// Binds a UDP socket to `addr` with `SO_REUSEPORT`, a receive buffer of `recv_buffer` bytes (the
/// kernel may cap it at `net.core.rmem_max`), and receives that time out after `timeout`.
pub fn bind(addr: SocketAddr, recv_buffer: usize, timeout: Duration) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.set_recv_buffer_size(recv_buffer)?;
    if addr.is_ipv6() {
        // `[::]:2055` also receives IPv4 exporters.
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(timeout))?;
    Ok(socket)
}

/// The receive buffer the kernel granted, in bytes.
pub fn recv_buffer(socket: &UdpSocket) -> io::Result<usize> {
    socket2::SockRef::from(socket).recv_buffer_size()
}

/// Whether a receive error only means the timeout passed.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_share_a_port_and_time_out() {
        let a = bind("127.0.0.1:0".parse().expect("addr"), 1 << 20, Duration::from_millis(20)).expect("bind");
        let port = a.local_addr().expect("addr");
        let b = bind(port, 1 << 20, Duration::from_millis(20)).expect("second socket on the same port");
        assert!(recv_buffer(&a).expect("size") >= 1 << 16);
        let mut buf = [0u8; 64];
        let err = a.recv_from(&mut buf).expect_err("nothing sent");
        assert!(is_timeout(&err), "{err}");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        sender.send_to(b"hello", port).expect("send");
        let got = [&a, &b].iter().find_map(|s| s.recv_from(&mut buf).ok()).expect("one socket receives it");
        assert_eq!(&buf[..got.0], b"hello");
        assert!(bind("[::1]:0".parse().expect("v6"), 1 << 16, Duration::from_millis(5)).is_ok());
    }
}
