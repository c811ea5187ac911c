//! `helios-udp`: the sockets flow collectors receive on.
//!
//! Every worker binds its own socket to the same address with `SO_REUSEPORT`: the kernel spreads
//! exporters over the sockets by a hash of their address and port, so one exporter's datagrams
//! always reach the same worker — its template state stays in one place and its flows stay in order.
//! Receive buffers are large (bursts wait in the kernel, not on the wire), receives are batched
//! ([`BatchReceiver`]: one `recvmmsg` call takes every datagram waiting, up to a batch), and they time
//! out so a worker notices a shutdown.
#![forbid(unsafe_code)]

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

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

/// Receives datagrams in batches with `recvmmsg(2)`: one system call returns as soon as one datagram
/// is there, with every other one already waiting (up to the batch size).
pub struct BatchReceiver {
    socket: UdpSocket,
    buffers: Box<[[u8; DATAGRAM]; BATCH]>,
    headers: MultiHeaders<SockaddrStorage>,
    received: Vec<(usize, Option<SocketAddr>)>,
}

/// Largest UDP payload.
const DATAGRAM: usize = 65_536;

/// Datagrams taken per call, at most.
pub const BATCH: usize = 32;

impl BatchReceiver {
    /// A receiver taking up to [`BATCH`] datagrams per call (64 KiB of buffer each). Receiving
    /// allocates nothing.
    pub fn new(socket: UdpSocket) -> BatchReceiver {
        BatchReceiver {
            socket,
            // Built on the heap: 2 MiB would not fit a thread's stack.
            buffers: vec![[0; DATAGRAM]; BATCH].into_boxed_slice().try_into().expect("BATCH buffers, by construction"),
            headers: MultiHeaders::preallocate(BATCH, None),
            received: Vec::with_capacity(BATCH),
        }
    }

    /// Waits for datagrams (until the socket's read timeout), then calls `each(payload, source)` for
    /// every one received. Returns how many; a timeout is `Ok(0)`.
    pub fn recv(&mut self, mut each: impl FnMut(&[u8], SocketAddr)) -> io::Result<usize> {
        self.received.clear();
        {
            let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = self.buffers.each_mut().map(|b| [IoSliceMut::new(b)]);
            let fd = self.socket.as_raw_fd();
            match recvmmsg(fd, &mut self.headers, slices.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(results) => {
                    for r in results {
                        let source = r.address.and_then(|a| to_socket_addr(&a));
                        self.received.push((r.bytes, source));
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => return Ok(0),
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        for (buffer, &(len, source)) in self.buffers.iter().zip(&self.received) {
            if let (Some(payload), Some(source)) = (buffer.get(..len), source) {
                each(payload, source);
            }
        }
        Ok(self.received.len())
    }
}

fn to_socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from((v6.ip(), v6.port())))
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
        assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{err}");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        sender.send_to(b"hello", port).expect("send");
        let got = [&a, &b].iter().find_map(|s| s.recv_from(&mut buf).ok()).expect("one socket receives it");
        assert_eq!(&buf[..got.0], b"hello");
        assert!(bind("[::1]:0".parse().expect("v6"), 1 << 16, Duration::from_millis(5)).is_ok());
    }

    #[test]
    fn a_batch_takes_every_waiting_datagram_with_its_source() {
        let socket = bind("127.0.0.1:0".parse().expect("addr"), 1 << 20, Duration::from_millis(50)).expect("bind");
        let port = socket.local_addr().expect("addr");
        let mut rx = BatchReceiver::new(socket);
        assert_eq!(rx.recv(|_, _| panic!("nothing was sent")).expect("timeout"), 0);
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        for i in 0..6u8 {
            sender.send_to(&[i; 3], port).expect("send");
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut got = Vec::new();
        while got.len() < 6 {
            let n = rx
                .recv(|payload, from| {
                    assert_eq!(from, sender.local_addr().expect("addr"));
                    got.push(payload.to_vec());
                })
                .expect("recv");
            assert!((1..=BATCH).contains(&n), "{n}");
        }
        assert_eq!(got, (0..6u8).map(|i| vec![i; 3]).collect::<Vec<_>>());
        let v6 = bind("[::1]:0".parse().expect("v6"), 1 << 16, Duration::from_millis(50)).expect("bind");
        let v6_port = v6.local_addr().expect("addr");
        let mut rx6 = BatchReceiver::new(v6);
        UdpSocket::bind("[::1]:0").expect("v6 sender").send_to(b"x", v6_port).expect("send");
        let mut from6 = None;
        rx6.recv(|_, from| from6 = Some(from)).expect("recv");
        assert!(from6.is_some_and(|a| a.is_ipv6()));
    }
}
