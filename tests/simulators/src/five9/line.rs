//! The simulator's side of the line: connections whose answers can be sent slowly ([`FaultKind::SlowBody`]) or
//! stall ([`FaultKind::StalledBody`]), as a slow or broken network would send them. An answer's body is complete by
//! the time the handler returns it; how its bytes reach the client is decided here, write by write, by the
//! [`Trickle`] the handler left for its connection (keyed by the client's address, [`Peer`]).
//!
//! [`FaultKind::SlowBody`]: super::FaultKind::SlowBody
//! [`FaultKind::StalledBody`]: super::FaultKind::StalledBody

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// How the next answer of a connection is sent: its first `left` bytes (the head included) at most `chunk` at a
/// time, each write followed by `pause` while bytes of them are left; the rest at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trickle {
    pub left: usize,
    pub chunk: usize,
    pub pause: Duration,
}

/// The [`Trickle`]s of connections, by the client's address.
pub(crate) type Trickles = Arc<Mutex<HashMap<SocketAddr, Trickle>>>;

/// The client's address of a request's connection (its `ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, Line>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Line>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// The listener: TCP connections, each written through a [`Paced`].
pub(crate) struct Line {
    pub listener: TcpListener,
    pub trickles: Trickles,
}

impl Listener for Line {
    type Io = Paced;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Paced, SocketAddr) {
        let (stream, peer) = <TcpListener as Listener>::accept(&mut self.listener).await;
        (Paced { stream, peer, trickles: self.trickles.clone(), pause: None }, peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection whose writes follow the [`Trickle`] left for it, if any.
pub(crate) struct Paced {
    stream: TcpStream,
    peer: SocketAddr,
    trickles: Trickles,
    /// The pause after the last write, while it lasts.
    pause: Option<Pin<Box<Sleep>>>,
}

impl Paced {
    fn trickles(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Trickle>> {
        self.trickles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AsyncRead for Paced {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Paced {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(pause) = self.pause.as_mut() {
            ready!(pause.as_mut().poll(cx));
            self.pause = None;
        }
        let limit = self.trickles().get(&self.peer).map(|t| t.chunk.min(t.left).max(1));
        let Some(limit) = limit else {
            return Pin::new(&mut self.stream).poll_write(cx, buf);
        };
        let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &buf[..buf.len().min(limit)]))?;
        let peer = self.peer;
        let pause = {
            let mut trickles = self.trickles();
            match trickles.get_mut(&peer) {
                Some(t) if t.left > n => {
                    t.left -= n;
                    Some(t.pause)
                }
                Some(_) => {
                    trickles.remove(&peer);
                    None
                }
                None => None,
            }
        };
        self.pause = pause.filter(|_| n > 0).map(|p| Box::pin(tokio::time::sleep(p)));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        let peer = self.peer;
        self.trickles().remove(&peer);
    }
}
