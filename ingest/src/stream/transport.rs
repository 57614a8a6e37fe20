//! One WebSocket connection of a streaming source: TCP, TLS, the frame guard and the handshake, then
//! whole data messages with their kind and length as the host sent them.
//!
//! Because of the guard, tungstenite never refuses a data message for its size or its encoding: those
//! checks are the source's, on the bytes. What tungstenite still refuses (reserved bits, a masked or
//! unknown frame, a broken fragment sequence) is a [`ReadError::Refused`]: the connection is lost, and
//! the source must step over the position, or the host sends the same frame again after every resume.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Connection;
use super::guard::{FrameGuard, Note, Notes};

/// An open connection.
pub(crate) struct Socket {
    ws: WebSocketStream<FrameGuard<MaybeTlsStream<TcpStream>>>,
    notes: Notes,
}

/// A data message: its first `keep` bytes, whether it was sent as text, and its length as sent.
#[derive(Debug)]
pub(crate) struct Frame {
    pub bytes: Bytes,
    pub text: bool,
    pub len: usize,
}

impl Frame {
    /// The bytes a rejected frame keeps and why, when the frame is longer than `max`.
    pub(crate) fn oversized(&self, max: usize) -> Option<(&[u8], String)> {
        (self.len > max).then(|| (&self.bytes[..self.bytes.len().min(max)], super::oversized(self.len, max)))
    }
}

/// What a read gives.
#[derive(Debug)]
pub(crate) enum Incoming {
    Frame(Frame),
    /// The host closed the connection (its close frame, as text).
    Closed(String),
    /// A ping (tungstenite answers it) or a pong: liveness only.
    Control,
}

/// Why reading ended the connection.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The WebSocket layer refused the frame after the last one read; the host will send it again.
    Refused(String),
    Failed(String),
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The host answered the upgrade with an HTTP status.
    Refused {
        status: u16,
        body: Option<Vec<u8>>,
    },
    Failed(String),
}

/// Connects to a `ws://` or `wss://` URL; data messages are cut to their first `keep` bytes.
pub(crate) async fn connect(url: &str, keep: usize) -> Result<Socket, ConnectError> {
    let failed = |e: String| ConnectError::Failed(e);
    let request = url.into_client_request().map_err(|e| failed(e.to_string()))?;
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(failed(format!("{url}: not a ws:// or wss:// URL"))),
    };
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| failed(e.to_string()))?;
    tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
    let stream = match secure {
        true => MaybeTlsStream::Rustls(tls(&host, tcp).await.map_err(failed)?),
        false => MaybeTlsStream::Plain(tcp),
    };
    let notes = Notes::default();
    let guarded = FrameGuard::new(stream, keep, notes.clone());
    // The guard cuts every data message to `keep`; these limits only back it up (a control frame may
    // carry 125 bytes whatever `keep` is).
    let limit = Some(keep.max(125));
    let config = WebSocketConfig::default().max_message_size(limit).max_frame_size(limit);
    match tokio_tungstenite::client_async_with_config(request, guarded, Some(config)).await {
        Ok((ws, _)) => Ok(Socket { ws, notes }),
        Err(tungstenite::Error::Http(resp)) => {
            Err(ConnectError::Refused { status: resp.status().as_u16(), body: resp.body().clone() })
        }
        Err(e) => Err(failed(e.to_string())),
    }
}

/// Keeping a connection alive: a ping every `ping_interval`, and the connection given up when neither a
/// frame nor a pong came for `idle_timeout`. A source also runs its own periodic checks on the tick.
pub(crate) struct Liveness {
    tick: tokio::time::Interval,
    last_heard: Instant,
    last_ping: Instant,
    ping_interval: Duration,
    idle_timeout: Duration,
}

impl Liveness {
    /// Ticking often enough for the ping and the idle timeout, and at least every `also`.
    pub(crate) fn new(c: &Connection, also: Duration) -> Self {
        let every = c.ping_interval.min(c.idle_timeout / 4).min(also).max(Duration::from_millis(5));
        Liveness {
            tick: tokio::time::interval(every),
            last_heard: Instant::now(),
            last_ping: Instant::now(),
            ping_interval: c.ping_interval,
            idle_timeout: c.idle_timeout,
        }
    }

    pub(crate) async fn tick(&mut self) {
        self.tick.tick().await;
    }

    /// Something (a frame, a pong) came from the host.
    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// On a tick: pings when one is due; an error when the host has been silent too long.
    pub(crate) async fn check(&mut self, socket: &mut Socket) -> Result<(), String> {
        if self.last_heard.elapsed() > self.idle_timeout {
            return Err(format!("no frame or pong for {:?}", self.idle_timeout));
        }
        if self.last_ping.elapsed() >= self.ping_interval {
            self.last_ping = Instant::now();
            socket.send(Message::Ping(Default::default())).await.map_err(|e| format!("ping: {e}"))?;
        }
        Ok(())
    }
}

/// A TLS connection to `host` over `tcp`, checked against the webpki roots.
pub(crate) async fn tls(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
    });
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?;
    tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp).await.map_err(|e| e.to_string())
}

impl Socket {
    /// The next message; `None` once the connection is closed.
    pub(crate) async fn next(&mut self) -> Option<Result<Incoming, ReadError>> {
        let msg = self.ws.next().await?;
        Some(match msg {
            Ok(Message::Binary(bytes)) => {
                let note = self.notes.take().unwrap_or(Note { text: false, len: bytes.len() as u64 });
                let len = usize::try_from(note.len).unwrap_or(usize::MAX);
                Ok(Incoming::Frame(Frame { bytes, text: note.text, len }))
            }
            Ok(Message::Text(text)) => {
                // The guard hands text on as binary; this is only a guard that was bypassed.
                let len = self.notes.take().map_or(text.len() as u64, |n| n.len);
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                Ok(Incoming::Frame(Frame { bytes: text.into(), text: true, len }))
            }
            Ok(Message::Close(c)) => Ok(Incoming::Closed(format!("{c:?}"))),
            Ok(_) => Ok(Incoming::Control),
            Err(e) => Err(read_error(e)),
        })
    }

    pub(crate) async fn send(&mut self, msg: Message) -> Result<(), tungstenite::Error> {
        self.ws.send(msg).await
    }

    /// Closes the connection (best effort: it may already be gone).
    pub(crate) async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A read error that is about one frame (the host would send it again on the next connection), or
/// about the connection.
fn read_error(e: tungstenite::Error) -> ReadError {
    use ProtocolError as P;
    let refused = matches!(
        e,
        tungstenite::Error::Capacity(_)
            | tungstenite::Error::Utf8(_)
            | tungstenite::Error::Protocol(
                P::NonZeroReservedBits
                    | P::MaskedFrameFromServer
                    | P::FragmentedControlFrame
                    | P::ControlFrameTooBig
                    | P::UnknownControlFrameType(_)
                    | P::UnknownDataFrameType(_)
                    | P::UnexpectedContinueFrame
                    | P::ExpectedFragment(_)
                    | P::InvalidOpcode(_)
            )
    );
    match refused {
        true => ReadError::Refused(e.to_string()),
        false => ReadError::Failed(format!("read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    use super::*;

    /// A server that sends `messages` to its first client, then closes.
    async fn serve(messages: Vec<Message>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            for m in messages {
                ws.send(m).await.unwrap();
            }
            let _ = ws.close(None).await;
        });
        format!("ws://{addr}/")
    }

    #[tokio::test]
    async fn every_message_arrives_with_its_own_kind_and_length_and_none_is_left_noted() {
        let fragment = |data: &[u8], op, fin| Message::Frame(RawFrame::message(data.to_vec(), op, fin));
        let messages = vec![
            Message::text("plain"),
            fragment(b"\xff not utf-8", OpCode::Data(Data::Text), true),
            Message::Ping(Bytes::from_static(b"p")),
            Message::binary(vec![7u8; 100]),
            fragment(b"abc", OpCode::Data(Data::Text), false),
            fragment(b"def", OpCode::Data(Data::Continue), true),
            Message::binary(vec![1u8; 3]),
        ];
        let mut socket = connect(&serve(messages).await, 10).await.unwrap();
        let mut got = Vec::new();
        while let Some(Ok(incoming)) = socket.next().await {
            if let Incoming::Frame(f) = incoming {
                got.push((f.bytes.to_vec(), f.text, f.len));
            }
        }
        let expected: Vec<(Vec<u8>, bool, usize)> = vec![
            (b"plain".to_vec(), true, 5),
            (b"\xff not utf-".to_vec(), true, 11),
            (vec![7u8; 10], false, 100),
            (b"abcdef".to_vec(), true, 6),
            (vec![1u8; 3], false, 3),
        ];
        assert_eq!(got, expected);
        assert!(socket.notes.take().is_none(), "a note left over would pair with the wrong message");
    }
}
